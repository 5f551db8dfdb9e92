"""Messages of ``jagajalan gateway doctor`` (see :mod:`kernel.text`): key -> (Bahasa
Indonesia, English). Data only."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "doctor.title": (
        "JagaJalan gateway doctor: {gateway}, {time} WIB",
        "JagaJalan gateway doctor: {gateway}, {time} WIB (UTC+7)",
    ),
    "doctor.summary": (
        "{passed} lulus, {warned} peringatan, {failed} gagal, {skipped} dilewati ({seconds} detik)",
        "{passed} passed, {warned} warnings, {failed} failed, {skipped} skipped ({seconds} s)",
    ),
    "doctor.verdict_ok": ("Semua pemeriksaan penting lulus.", "All essential checks passed."),
    "doctor.verdict_fail": (
        "Ada yang gagal: ikuti saran (→) di atas, lalu jalankan doctor lagi.",
        "Something failed: follow the remedies (→) above, then run doctor again.",
    ),
    "doctor.progress": ("Memeriksa {what}…", "Checking {what}…"),
    "name.config": ("Konfigurasi", "Configuration"),
    "name.serial": ("Port {port}", "Port {port}"),
    "name.device": ("Perangkat {device}", "Device {device}"),
    "name.broker": ("Broker MQTT", "MQTT broker"),
    "name.auth": ("Login broker", "Broker login"),
    "name.publish": ("Kirim ke broker", "Publish to broker"),
    "name.spool": ("Spool", "Spool"),
    "name.disk": ("Ruang disk", "Disk space"),
    "name.clock": ("Jam sistem", "System clock"),
    "name.ntp": ("Sinkronisasi NTP", "NTP sync"),
    "name.gps": ("Jam GPS ({device})", "GPS clock ({device})"),
    "config.ok": (
        "{file}: gateway {gateway}, {devices} perangkat",
        "{file}: gateway {gateway}, {devices} device(s)",
    ),
    "config.problem": ("{file}: {key} = {value}: {problem}", "{file}: {key} = {value}: {problem}"),
    "config.problem.remedy": (
        "Perbaiki `{key}` di {file}, lalu cek: `jagajalan gateway check-config --config {file}`",
        "Fix `{key}` in {file}, then check: `jagajalan gateway check-config --config {file}`",
    ),
    "config.password_mode": (
        "File password {path} bisa dibaca user lain (mode {mode})",
        "Password file {path} can be read by other users (mode {mode})",
    ),
    "config.password_mode.remedy": (
        "Jalankan `sudo chmod 600 {path}`",
        "Run `sudo chmod 600 {path}`",
    ),
    "config.username": (
        "Username MQTT {username} berbeda dengan id gateway {gateway}; ACL broker memakai"
        " username sebagai id",
        "MQTT username {username} differs from the gateway id {gateway}; the broker ACL uses"
        " the username as the id",
    ),
    "config.username.remedy": (
        "Samakan `mqtt.username` dengan id gateway, kecuali admin broker meminta lain",
        "Make `mqtt.username` equal to the gateway id unless the broker admin says otherwise",
    ),
    "serial.ok": ("Ada dan bisa diakses ({target})", "Present and accessible ({target})"),
    "serial.missing": ("Port serial {port} tidak ditemukan", "Serial port {port} not found"),
    "serial.missing.remedy": (
        "Periksa kabel USB-serial dan jalankan `ls /dev/serial/by-id/`. Port yang terlihat: {seen}",
        "Check the USB-serial cable and run `ls /dev/serial/by-id/`. Ports seen: {seen}",
    ),
    "serial.none_seen": ("tidak ada", "none"),
    "serial.not_tty": (
        "{port} bukan perangkat serial",
        "{port} is not a serial device",
    ),
    "serial.not_tty.remedy": (
        "Periksa `serial.port` di config; pakai path dari `ls /dev/serial/by-id/`",
        "Check `serial.port` in the config; use a path from `ls /dev/serial/by-id/`",
    ),
    "serial.denied": (
        "Tidak ada izin membuka {port} (grup {group}, mode {mode})",
        "No permission to open {port} (group {group}, mode {mode})",
    ),
    "serial.denied.remedy": (
        "Tambahkan user ke grup {group}: `sudo usermod -aG {group} {user}`, lalu logout dan"
        " login lagi",
        "Add the user to group {group}: `sudo usermod -aG {group} {user}`, then log out and"
        " in again",
    ),
    "device.skip_port": ("Dilewati: port {port} bermasalah", "Skipped: port {port} has a problem"),
    "device.skip_running": (
        "Dilewati: layanan gateway sedang berjalan dan memakai port-port ini",
        "Skipped: the gateway service is running and owns the ports",
    ),
    "device.skip_running.remedy": (
        "Hentikan dulu: `sudo systemctl stop jagajalan-gateway`, jalankan doctor, lalu"
        " `sudo systemctl start jagajalan-gateway`",
        "Stop it first: `sudo systemctl stop jagajalan-gateway`, run doctor, then"
        " `sudo systemctl start jagajalan-gateway`",
    ),
    "device.driver_failed": (
        "Driver tidak bisa dimulai: {detail}",
        "The driver could not start: {detail}",
    ),
    "device.driver_failed.remedy": (
        "Perbaiki pengaturan perangkat ini di config (lihat pesan), lalu jalankan doctor lagi",
        "Fix this device's settings in the config (see the message), then run doctor again",
    ),
    "device.modbus_ok": ("Unit {unit} menjawab: {values}", "Unit {unit} answered: {values}"),
    "device.modbus_first_poll": (
        "Unit {unit} menjawab (penghitung: poll pertama belum memberi nilai)",
        "Unit {unit} answered (counters: the first poll gives no value yet)",
    ),
    "device.implausible": (
        "Unit {unit} menjawab, tapi nilainya tidak wajar: {problems}",
        "Unit {unit} answered, but the values look wrong: {problems}",
    ),
    "device.implausible.remedy": (
        "Periksa profil {profile} (scale, offset, urutan word) dan kondisi sensor",
        "Check profile {profile} (scale, offset, word order) and the sensor itself",
    ),
    "device.out_of_range": (
        "{field}={value} di luar {low}..{high}",
        "{field}={value} outside {low}..{high}",
    ),
    "device.timeout": ("Sensor tidak menjawab: {detail}", "No answer from the sensor: {detail}"),
    "device.timeout.remedy": (
        "Periksa daya sensor, kabel RS-485 (A/B tertukar?), unit {unit} dan baud {baud};"
        " cari dengan `jagajalan gateway scan --port {port}`",
        "Check the sensor's power, the RS-485 wires (A/B swapped?), unit {unit} and baud {baud};"
        " search with `jagajalan gateway scan --port {port}`",
    ),
    "device.crc_error": (
        "Jawaban rusak (CRC atau terpotong): {detail}",
        "Corrupt answer (CRC or cut short): {detail}",
    ),
    "device.crc_error.remedy": (
        "Periksa baud {baud} dan parity {parity}, ground, terminasi 120 Ω di ujung bus, dan"
        " kabel twisted pair",
        "Check baud {baud} and parity {parity}, ground, 120 Ω termination at the bus ends, and"
        " the twisted pair",
    ),
    "device.decode_error": ("Jawaban tidak cocok: {detail}", "The answer does not fit: {detail}"),
    "device.decode_error.remedy": (
        "Mungkin dua sensor memakai unit yang sama, atau profil {profile} salah; cek dengan"
        " `jagajalan gateway scan --port {port}`",
        "Perhaps two sensors share a unit, or profile {profile} is wrong; check with"
        " `jagajalan gateway scan --port {port}`",
    ),
    "device.error": ("Perangkat bermasalah: {detail}", "Device error: {detail}"),
    "device.error.remedy": (
        "Exception dari sensor biasanya berarti profil atau unit salah; port yang tidak bisa"
        " dibuka: periksa izin dan apakah dipakai program lain",
        "An exception from the sensor usually means a wrong profile or unit; a port that will"
        " not open: check permissions and whether another program uses it",
    ),
    "device.unplugged": (
        "Port hilang atau error I/O: {detail}",
        "Port gone or I/O error: {detail}",
    ),
    "device.unplugged.remedy": (
        "Cabut lalu pasang lagi kabel USB-serial, lalu lihat `dmesg | tail`",
        "Unplug and replug the USB-serial cable, then look at `dmesg | tail`",
    ),
    "device.no_sign": (
        "Tidak ada tanda dari perangkat dalam {seconds} detik",
        "No sign from the device within {seconds} s",
    ),
    "device.no_sign.remedy": (
        "Periksa daya, kabel dan pengaturan serial (baud {baud})",
        "Check power, cable and serial settings (baud {baud})",
    ),
    "device.traffic_ok": (
        "Data masuk: {records} kendaraan, {heartbeats} heartbeat dalam {seconds} detik",
        "Data arriving: {records} vehicle(s), {heartbeats} heartbeat(s) in {seconds} s",
    ),
    "device.stream_bad": (
        "Data masuk tapi rusak ({errors}): {detail}",
        "Data arrives but is corrupt ({errors}): {detail}",
    ),
    "device.stream_bad.remedy": (
        "Periksa baud ({baud}) dan format keluaran perangkat",
        "Check the baud rate ({baud}) and the device's output format",
    ),
    "device.traffic_silent": (
        "Tidak ada data dari penghitung dalam {seconds} detik (heartbeat tiap 10 detik)",
        "No data from the counter within {seconds} s (a heartbeat comes every 10 s)",
    ),
    "device.traffic_silent.remedy": (
        "Periksa daya penghitung, kabel RS-232 (TX/RX tertukar?) dan baud {baud}",
        "Check the counter's power, the RS-232 cable (TX/RX swapped?) and baud {baud}",
    ),
    "device.generic_ok": (
        "Perangkat aktif: status {state}, {readings} data",
        "Device active: state {state}, {readings} reading(s)",
    ),
    "device.generic_quiet": (
        "Port terbuka, tapi belum ada data dalam {seconds} detik",
        "The port is open, but no data came within {seconds} s",
    ),
    "device.generic_quiet.remedy": (
        "Tunggu lebih lama (`--wait 30`) atau periksa perangkat",
        "Wait longer (`--wait 30`) or check the device",
    ),
    "broker.ok": ("{url} bisa dihubungi ({ms} ms)", "{url} reachable ({ms} ms)"),
    "broker.dns": (
        "Nama broker {host} tidak ditemukan (DNS): {error}",
        "Broker host name {host} not found (DNS): {error}",
    ),
    "broker.dns.remedy": (
        "Periksa sinyal/modem dan internet (`ping -c3 8.8.8.8`) serta `mqtt.url` di config",
        "Check the signal/modem and internet (`ping -c3 8.8.8.8`) and `mqtt.url` in the config",
    ),
    "broker.refused": (
        "Broker {url} menolak koneksi (port tertutup)",
        "Broker {url} refused the connection (port closed)",
    ),
    "broker.refused.remedy": (
        "Periksa alamat dan port `mqtt.url`; tanyakan admin apakah broker berjalan",
        "Check the address and port in `mqtt.url`; ask the admin whether the broker runs",
    ),
    "broker.timeout": (
        "Broker {url} tidak menjawab dalam {seconds} detik",
        "Broker {url} did not answer within {seconds} s",
    ),
    "broker.unreachable": (
        "Broker {url} tidak bisa dihubungi: {error}",
        "Broker {url} cannot be reached: {error}",
    ),
    "broker.network.remedy": (
        "Periksa sinyal/modem dan firewall; data tetap aman di spool sampai terkirim",
        "Check the signal/modem and firewall; readings stay safe in the spool until sent",
    ),
    "skip.no_broker": (
        "Dilewati: broker tidak bisa dihubungi",
        "Skipped: the broker cannot be reached",
    ),
    "skip.no_login": ("Dilewati: login ke broker gagal", "Skipped: the broker login failed"),
    "auth.ok": (
        "Login sebagai {username} berhasil (MQTT {protocol})",
        "Logged in as {username} (MQTT {protocol})",
    ),
    "auth.anonymous": (
        "Terhubung tanpa login (MQTT {protocol})",
        "Connected without login (MQTT {protocol})",
    ),
    "auth.refused": (
        "Broker menolak login sebagai {username}: {reason}",
        "The broker refused the login as {username}: {reason}",
    ),
    "auth.refused.remedy": (
        "Periksa `mqtt.username` dan isi file password {password_file} (satu baris, tanpa"
        " spasi); minta admin broker mengecek akun {username}",
        "Check `mqtt.username` and the content of the password file {password_file} (one line,"
        " no spaces); ask the broker admin to check account {username}",
    ),
    "auth.rejected": (
        "Broker menolak koneksi: {reason}",
        "The broker refused the connection: {reason}",
    ),
    "auth.rejected.remedy": (
        "Kirim pesan ini ke admin broker",
        "Send this message to the broker admin",
    ),
    "auth.tls": ("TLS gagal: {error}", "TLS failed: {error}"),
    "auth.tls.remedy": (
        "Periksa `mqtt.ca_file` dan jam sistem (sertifikat ditolak kalau jam salah)",
        "Check `mqtt.ca_file` and the system clock (certificates fail when the clock is wrong)",
    ),
    "auth.no_answer": (
        "Broker tidak menjawab login dalam {seconds} detik",
        "The broker did not answer the login within {seconds} s",
    ),
    "auth.password_unreadable": (
        "File password {path} tidak bisa dibaca: {error}",
        "Password file {path} cannot be read: {error}",
    ),
    "run_as_gateway.remedy": (
        "Jalankan doctor sebagai user gateway: `sudo -u jagajalan jagajalan gateway doctor`",
        "Run doctor as the gateway user: `sudo -u jagajalan jagajalan gateway doctor`",
    ),
    "publish.echo": (
        "Pesan uji di {topic} terkirim dan diterima kembali ({ms} ms)",
        "Test message on {topic} published and received back ({ms} ms)",
    ),
    "publish.puback": (
        "Pesan uji di {topic} diterima broker (PUBACK, {ms} ms); ACL tidak mengizinkan gateway"
        " membaca topik ini, jadi PUBACK dipakai sebagai bukti",
        "Test message on {topic} accepted by the broker (PUBACK, {ms} ms); the ACL does not let"
        " the gateway read this topic back, so the PUBACK counts as the round trip",
    ),
    "publish.puback_v311": (
        "PUBACK diterima untuk {topic}, tapi dengan MQTT 3.1.1 broker tidak memberi tahu bila ACL"
        " menolak; belum pasti",
        "PUBACK received for {topic}, but over MQTT 3.1.1 the broker does not report an ACL"
        " refusal; not certain",
    ),
    "publish.puback_v311.remedy": (
        "Lihat di dashboard apakah status gateway ini masuk",
        "Check on the dashboard that this gateway's status arrives",
    ),
    "publish.denied": (
        "Broker menolak publish ke {topic}: {reason}",
        "The broker refused the publish to {topic}: {reason}",
    ),
    "publish.denied.remedy": (
        "Minta admin broker menambah ACL `pattern write jagajalan/v1/%u/status` dan"
        " `pattern write jagajalan/v1/%u/readings`, dengan username = id gateway ({gateway})",
        "Ask the broker admin for the ACL `pattern write jagajalan/v1/%u/status` and"
        " `pattern write jagajalan/v1/%u/readings`, with username = gateway id ({gateway})",
    ),
    "publish.no_puback": (
        "Tidak ada PUBACK untuk pesan uji dalam {seconds} detik",
        "No PUBACK for the test message within {seconds} s",
    ),
    "spool.ok": (
        "{path}: {depth} data menunggu dikirim, tertua {age}, {dropped} pernah dibuang",
        "{path}: {depth} reading(s) waiting, oldest {age}, {dropped} dropped so far",
    ),
    "spool.missing": (
        "Belum ada spool di {path}; dibuat saat gateway pertama kali jalan",
        "No spool at {path} yet; the gateway creates it on its first run",
    ),
    "spool.no_dir": (
        "Folder spool {dir} belum ada dan user ini tidak bisa membuatnya",
        "Spool folder {dir} does not exist and this user cannot create it",
    ),
    "spool.no_dir.remedy": (
        "Normal sebelum layanan pertama kali jalan (systemd membuatnya); atau"
        " `sudo install -d -o jagajalan -g jagajalan {dir}`",
        "Normal before the service's first start (systemd creates it); or"
        " `sudo install -d -o jagajalan -g jagajalan {dir}`",
    ),
    "spool.in_use": (
        "Spool {path} sedang dipakai layanan gateway yang berjalan; isinya tidak diperiksa",
        "Spool {path} is in use by the running gateway service; its content was not checked",
    ),
    "spool.denied": ("Tidak ada izin membuka spool {path}", "No permission to open spool {path}"),
    "spool.broken": ("Spool tidak bisa dibuka: {error}", "The spool cannot be opened: {error}"),
    "spool.broken.remedy": (
        "Jangan dihapus: `sudo mv {path} {path}.rusak` (gateway membuat spool baru), lalu"
        " kirim file lama ke admin",
        "Do not delete it: `sudo mv {path} {path}.broken` (the gateway makes a new spool), then"
        " send the old file to the admin",
    ),
    "spool.dropped": (
        "{dropped} data pernah dibuang karena spool penuh",
        "{dropped} reading(s) were dropped because the spool was full",
    ),
    "spool.dropped.remedy": (
        "Perbaiki koneksi ke broker, atau perbesar `spool.max_readings` bila disk cukup",
        "Fix the broker connection, or raise `spool.max_readings` if the disk allows",
    ),
    "spool.backlog": (
        "Data tertua sudah menunggu {age}: gateway belum bisa mengirim",
        "The oldest reading has waited {age}: the gateway cannot send",
    ),
    "spool.backlog.remedy": (
        "Periksa baris broker di atas dan `journalctl -u jagajalan-gateway -n 50`",
        "Check the broker rows above and `journalctl -u jagajalan-gateway -n 50`",
    ),
    "spool.full": (
        "Spool hampir penuh: {depth} dari {max} data",
        "The spool is almost full: {depth} of {max} readings",
    ),
    "disk.ok": ("{free} kosong di {mount} ({percent}%)", "{free} free on {mount} ({percent}%)"),
    "disk.low": (
        "Disk hampir penuh: tinggal {free} di {mount}",
        "The disk is almost full: {free} left on {mount}",
    ),
    "disk.low.remedy": (
        "Kosongkan disk: `sudo journalctl --vacuum-size=50M`, `sudo apt clean`; atau pakai"
        " kartu SD lebih besar",
        "Free some space: `sudo journalctl --vacuum-size=50M`, `sudo apt clean`; or use a"
        " larger SD card",
    ),
    "disk.tight": (
        "{free} kosong di {mount}; spool penuh butuh sekitar {need}",
        "{free} free on {mount}; a full spool needs about {need}",
    ),
    "disk.tight.remedy": (
        "Kosongkan disk atau kecilkan `spool.max_readings`",
        "Free some space or lower `spool.max_readings`",
    ),
    "clock.ok": ("{wib} WIB ({utc} UTC)", "{wib} WIB ({utc} UTC)"),
    "clock.wrong": (
        "Jam sistem tidak masuk akal: {wib} WIB",
        "The system clock is implausible: {wib} WIB",
    ),
    "clock.wrong.remedy": (
        "Setel jam: `sudo timedatectl set-ntp true` (butuh internet) atau"
        " `sudo date -u -s 'YYYY-MM-DD hh:mm'`; baterai RTC mungkin habis",
        "Set the clock: `sudo timedatectl set-ntp true` (needs internet) or"
        " `sudo date -u -s 'YYYY-MM-DD hh:mm'`; the RTC battery may be flat",
    ),
    "ntp.ok": ("Jam tersinkron dengan NTP", "The clock is synchronised by NTP"),
    "ntp.unsynced": ("Jam belum tersinkron NTP", "The clock is not synchronised by NTP yet"),
    "ntp.unsynced.remedy": (
        "Periksa internet, lalu `sudo timedatectl set-ntp true` dan `timedatectl timesync-status`",
        "Check the internet, then `sudo timedatectl set-ntp true` and"
        " `timedatectl timesync-status`",
    ),
    "ntp.disabled": ("Sinkronisasi NTP dimatikan", "NTP synchronisation is switched off"),
    "ntp.disabled.remedy": (
        "Jalankan `sudo timedatectl set-ntp true`",
        "Run `sudo timedatectl set-ntp true`",
    ),
    "ntp.unavailable": (
        "Tidak diperiksa: timedatectl tidak tersedia ({reason})",
        "Not checked: timedatectl is not available ({reason})",
    ),
    "gps.ok": (
        "Selisih jam sistem dengan GPS {offset} detik",
        "System clock differs from GPS by {offset} s",
    ),
    "gps.behind": (
        "Jam sistem tertinggal {offset} detik dari GPS",
        "The system clock is {offset} s behind the GPS time",
    ),
    "gps.ahead": (
        "Jam sistem lebih cepat {offset} detik dari GPS",
        "The system clock is {offset} s ahead of the GPS time",
    ),
    "gps.off.remedy": (
        "Periksa NTP; di lokasi tanpa internet pasang chrony dengan GPS sebagai sumber waktu",
        "Check NTP; at sites without internet use chrony with the GPS as its time source",
    ),
    "gps.no_answer": (
        "GPS tidak memberi waktu dalam {seconds} detik",
        "The GPS gave no time within {seconds} s",
    ),
}
