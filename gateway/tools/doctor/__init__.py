"""``jagajalan gateway doctor``: what is wrong with this gateway, with remedies.

``command`` (the run and its table), ``checks`` (result type and quick local checks),
``devices`` (each device read once through its real driver), ``broker`` (reach, login,
publish round trip).
"""
