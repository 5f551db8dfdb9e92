"""The domain's arithmetic, in one place: ISPU, traffic, level of service, flood ladders.

What this package guarantees to every caller (simulators, gateway, ingest, API, alerts,
dashboards):

- **Pure.** Every function is a function of its arguments: no I/O (files, serial, MQTT, HTTP,
  sockets), no clock (times are numbers the caller supplies), no randomness, no module-level
  state that changes. Only the standard library is imported; nothing from gateway/,
  simulators/, ingest/ or api/.
- **One source for every number.** Each default comes from ../shared/DOMAIN.md and names its
  source next to it; figures marked "verify" there are defaults that a caller may replace
  (every table is data passed in as an argument or held by a frozen config object).
- **Clear refusals.** Bad input (a negative concentration, an unknown parameter, class or
  road type, thresholds out of order) raises ValueError with a message that names the
  argument and the value; nothing returns NaN or a silently clamped wrong answer. The one
  deliberate clamp is the ISPU's top at 500.
- **Stable names.** Machine keys (``tidak_sehat``, ``siaga_2``, ``hati_hati``, ``MP``) are
  lower-case or PKJI codes and safe as InfluxDB tag values; people-facing labels come in
  Bahasa Indonesia (default) and English.

Modules: :mod:`analytics.ispu` (air quality index), :mod:`analytics.traffic` (classes, ekr,
flow, capacity, DJ, speed statistics), :mod:`analytics.los` (level of service views),
:mod:`analytics.flood` (flood ladders, water level, hysteresis), :mod:`analytics.ngsild`
(open data: readings as FIWARE Smart Data Models entities, NGSI-LD JSON).
"""
