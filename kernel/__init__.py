"""The shared kernel: what every component may use, and nothing component-specific.

Config loading with errors that point (:mod:`kernel.config`, in words of what is allowed:
:mod:`kernel.schema`), service settings from options, ``JAGAJALAN_*`` variables and secret
files (:mod:`kernel.settings`) built from shared pieces (:mod:`kernel.fields`), the generated
config reference (:mod:`kernel.configdoc`), logging (:mod:`kernel.logs`),
the one MQTT client factory (:mod:`kernel.mqtt`), time formatting for people (UTC in data,
WIB on screen: :mod:`kernel.times`) and the text catalogue in Bahasa Indonesia and English
(:mod:`kernel.text`). The kernel imports no component; the ``jagajalan`` command and ``demo``
(package ``jagajalan``) are the shell around the components, and no component imports them.
"""

__version__ = "0.1.0"
