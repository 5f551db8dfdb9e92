"""Messages of ``jagajalan gateway scan`` (see :mod:`kernel.text`): key -> (Bahasa
Indonesia, English). Data only."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "scan.bad_arg": (
        "{option} tidak valid: {value} ({problem})",
        "Invalid {option}: {value} ({problem})",
    ),
    "scan.bad_bauds": ("pakai angka seperti 9600,19200", "use numbers like 9600,19200"),
    "scan.bad_baud": (
        "baud {baud} tidak didukung (pilih: {known})",
        "baud {baud} is not supported (choose: {known})",
    ),
    "scan.bad_units": ("pakai bentuk 1-32 atau 1,5,7-9", "use the form 1-32 or 1,5,7-9"),
    "scan.bad_unit": ("unit harus 1..247, bukan {unit}", "units must be 1..247, not {unit}"),
    "scan.bad_parity": ("parity harus N, E atau O", "parity must be N, E or O"),
    "scan.bad_timeout": ("harus 0.02..5 detik", "must be 0.02..5 seconds"),
    "scan.open_failed": ("Tidak bisa membuka {port}: {error}", "Cannot open {port}: {error}"),
    "scan.start": (
        "Memindai {port}: {probes} percobaan ({bauds} baud × parity {parities} × {units} unit),"
        " paling lama sekitar {seconds} detik",
        "Scanning {port}: {probes} probes ({bauds} baud × parity {parities} × {units} units),"
        " at most about {seconds} s",
    ),
    "scan.progress": ("{baud} {frame}, unit {unit}", "{baud} {frame}, unit {unit}"),
    "scan.found": (
        "Ditemukan: unit {unit} pada {baud} baud {frame}",
        "Found: unit {unit} at {baud} baud {frame}",
    ),
    "scan.found_exception": (
        "Ditemukan: unit {unit} pada {baud} baud {frame} (menjawab exception {code})",
        "Found: unit {unit} at {baud} baud {frame} (answered exception {code})",
    ),
    "scan.noise": (
        "Jawaban rusak pada {baud} baud {frame} (unit {units}): baud/parity hampir benar, atau"
        " kabel bermasalah",
        "Corrupt answers at {baud} baud {frame} (units {units}): baud/parity nearly right, or a"
        " cabling problem",
    ),
    "scan.result": ("Unit {unit} ({baud} {frame})", "Unit {unit} ({baud} {frame})"),
    "scan.snippet_param": (
        "# Wajib diisi: params.{name} = {description} ({unit}{range}); ukur di lokasi",
        "# Required: params.{name} = {description} ({unit}{range}); measure it on site",
    ),
    "scan.identified": ("profil {profile}: {values}", "profile {profile}: {values}"),
    "scan.ambiguous": (
        "cocok dengan beberapa profil: {profiles}",
        "matches several profiles: {profiles}",
    ),
    "scan.unknown": ("tidak cocok dengan profil yang dikenal", "matches no known profile"),
    "scan.none": (
        "Tidak ada perangkat Modbus yang menjawab di {port}",
        "No Modbus device answered on {port}",
    ),
    "scan.none.remedy": (
        "Periksa daya sensor dan kabel A/B (coba tukar), lalu coba lebih luas: `--bauds"
        " 1200,2400,4800,9600,19200,38400,57600,115200 --parity N,E,O --units 1-247`",
        "Check the sensor's power and the A/B wires (try swapping), then search wider: `--bauds"
        " 1200,2400,4800,9600,19200,38400,57600,115200 --parity N,E,O --units 1-247`",
    ),
    "scan.summary": (
        "{found} perangkat ditemukan dalam {seconds} detik",
        "{found} device(s) found in {seconds} s",
    ),
    "scan.snippet_intro": (
        "Salin bagian ini ke config gateway (/etc/jagajalan/gateway.toml):",
        "Paste this into the gateway config (/etc/jagajalan/gateway.toml):",
    ),
    "scan.snippet_found": (
        "# Ditemukan oleh `jagajalan gateway scan` {time} WIB: unit {unit}, {baud} baud {frame}",
        "# Found by `jagajalan gateway scan` {time} WIB: unit {unit}, {baud} baud {frame}",
    ),
    "scan.snippet_values": ("# Nilai terbaca: {values}", "# Values read: {values}"),
    "scan.snippet_unknown": (
        "# Profil tidak dikenali: buat profil di gateway/devices/modbus/profiles/ "
        'lalu ganti "unknown"',
        '# No known profile: write one in gateway/devices/modbus/profiles/ and replace "unknown"',
    ),
    "scan.snippet_also": ("# Juga cocok: {profiles}", "# Also matches: {profiles}"),
    "scan.interrupted": ("Dihentikan.", "Interrupted."),
}
