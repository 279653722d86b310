#!/usr/bin/env bash
# samba.sh runs a throw-away Samba AD domain controller on 127.0.0.1 for the
# integration test in scan/ad/samba_test.go (build tag "samba").
#
#   .ci/samba.sh start   install Samba if needed, provision a fresh domain,
#                        seed users, serve LDAPS on 127.0.0.1:636, write the
#                        env file the test reads (path printed at the end)
#   .ci/samba.sh stop    stop the domain controller this script started
#   .ci/samba.sh test    start, run the test, stop: the one local command
#
# Every start provisions from scratch (the test writes to the directory), so
# running it twice gives the same domain shape. Needs root (Samba binds
# 389/636 and owns its database); re-runs itself with sudo otherwise.
#
# Settings: ANCHORSCAN_SAMBA_DIR (default /tmp/anchorscan-samba),
# ANCHORSCAN_SAMBA_USERS (users to seed, default 1200: more than one page).
set -euo pipefail

SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
DIR="${ANCHORSCAN_SAMBA_DIR:-/tmp/anchorscan-samba}"
USERS="${ANCHORSCAN_SAMBA_USERS:-1200}"
REALM=CORP.ANCHORSCAN.TEST
DOMAIN=CORP
BASE_DN="DC=corp,DC=anchorscan,DC=test"
SEED_OU="OU=Anchorscan,$BASE_DN"
HOST=dc1
PACKAGES="samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind ldb-tools ldap-utils openssl"
PIDFILE="$DIR/samba-fg.pid"
ENVFILE="$DIR/env"

log() { printf '%s samba.sh: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# phase NAME CMD...: runs CMD and logs how long it took.
phase() {
	local name=$1 start=$SECONDS
	shift
	"$@"
	log "$name took $((SECONDS - start)) s"
}

as_root() {
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "run as root (Samba binds ports 389 and 636)"
		exec sudo -E "$SELF" "$@"
	fi
}

install_samba() {
	local missing=
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		log "Samba packages already installed"
		return
	fi
	log "installing$missing"
	# Keep the packages' maintainer scripts from starting smbd, nmbd,
	# winbind or samba-ad-dc on every interface.
	local policy=/usr/sbin/policy-rc.d made_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	local rc=0
	{
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends $PACKAGES
	} >"${TMPDIR:-/tmp}/anchorscan-samba-apt.log" 2>&1 || rc=$?
	if [ -n "$made_policy" ]; then
		rm -f "$policy"
	fi
	[ "$rc" -eq 0 ] || die "apt-get failed ($rc); see ${TMPDIR:-/tmp}/anchorscan-samba-apt.log"
}

stop_samba() {
	[ -f "$PIDFILE" ] || return 0
	local pid
	pid=$(cat "$PIDFILE")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "samba ($pid) did not stop in 10 s; killing it"
			kill -9 "$pid"
		fi
		log "stopped samba ($pid)"
	fi
	rm -f "$PIDFILE"
}

provision() {
	rm -rf "$DIR"
	mkdir -p "$DIR"/{run,log,cache,state,tls}
	chmod 755 "$DIR"
	: >"$DIR/empty.conf"
	# A random administrator password per domain; it lives only in the env
	# file (mode 0600) and dies with the directory.
	PASSWORD="Anchor-$(openssl rand -hex 12)"
	# -s with an empty file: otherwise provisioning copies settings from the
	# machine's own smb.conf.
	samba-tool domain provision -s "$DIR/empty.conf" --targetdir="$DIR" \
		--realm="$REALM" --domain="$DOMAIN" --server-role=dc --dns-backend=NONE \
		--host-name="$HOST" --host-ip=127.0.0.1 --adminpass="$PASSWORD" \
		--option="interfaces=127.0.0.1" --option="bind interfaces only=yes" \
		--option="pid directory=$DIR/run" --option="state directory=$DIR/state" \
		--option="cache directory=$DIR/cache" --option="log file=$DIR/log/samba.log" \
		>"$DIR/log/provision.log" 2>&1 || die "provisioning failed; see $DIR/log/provision.log"
}

# make_tls writes a CA and a server certificate with subjectAltNames: the
# one Samba generates has none, which Go's crypto/tls rejects.
make_tls() {
	local t="$DIR/tls"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.pem" -days 2 \
		-subj "/CN=anchorscan throw-away test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout "$t/dc.key" -out "$t/dc.csr" \
		-subj "/CN=$HOST.${REALM,,}" 2>/dev/null
	printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' \
		"$HOST.${REALM,,}" >"$t/dc.ext"
	openssl x509 -req -in "$t/dc.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
		-out "$t/dc.pem" -days 2 -extfile "$t/dc.ext" 2>/dev/null
	chmod 600 "$t/ca.key" "$t/dc.key"
	chmod 644 "$t/ca.pem" "$t/dc.pem"
	chmod 755 "$t"
}

# configure serves LDAP only (no SMB, KDC, DNS or RPC listeners) with our
# certificate. Provisioning rewrites "server services", so it is set after.
configure() {
	local conf="$DIR/etc/smb.conf"
	sed -i -e 's/^\tserver services = .*/\tserver services = ldap/' "$conf"
	grep -q '^	server services = ldap$' "$conf" || die "could not set server services in $conf"
	sed -i -e "/^\[global\]/a\\
\ttls enabled = yes\\
\ttls keyfile = $DIR/tls/dc.key\\
\ttls certfile = $DIR/tls/dc.pem\\
\ttls cafile = $DIR/tls/ca.pem" "$conf"
}

# seed adds the users straight into sam.ldb while Samba is stopped: one
# ldbadd transaction instead of an LDAP round trip, let alone a samba-tool
# process, per user. Every third user gets an mS-DS-ConsistencyGuid.
seed() {
	python3 - "$USERS" "$SEED_OU" "${REALM,,}" >"$DIR/seed.ldif" <<'EOF'
import base64, sys, uuid
n, ou, dns = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = [f"dn: {ou}\nobjectClass: organizationalUnit\nou: Anchorscan\n"]
for i in range(n):
    name = f"seed{i:05d}"
    entry = [f"dn: CN={name},{ou}", "objectClass: user", f"sAMAccountName: {name}",
             f"userPrincipalName: {name}@{dns}", f"mail: {name}@{dns}"]
    if i % 3 == 0:
        # A GUID whose first groups are not palindromic, stored in AD's
        # byte order, so a byte-order slip cannot go unnoticed.
        g = uuid.UUID(f"{0x5eed0000 + i:08x}-c642-489b-84b6-58c038d3ef39")
        entry.append("mS-DS-ConsistencyGuid:: " + base64.b64encode(g.bytes_le).decode())
    out.append("\n".join(entry) + "\n")
sys.stdout.write("\n".join(out))
EOF
	ldbadd -H "$DIR/private/sam.ldb" "$DIR/seed.ldif" >"$DIR/log/seed.log" 2>&1 ||
		die "seeding failed; see $DIR/log/seed.log"
	# What Samba's own tool says the seeded users are: objectGUID as the
	# canonical string, read from the database, not through LDAP.
	ldbsearch -H "$DIR/private/sam.ldb" -b "$SEED_OU" '(objectClass=user)' \
		sAMAccountName objectGUID mS-DS-ConsistencyGuid >"$DIR/seeded.ldif" 2>"$DIR/log/dump.log" ||
		die "dumping the seeded users failed; see $DIR/log/dump.log"
	chmod 644 "$DIR/seeded.ldif"
}

start_samba() {
	if (exec 3<>/dev/tcp/127.0.0.1/636) 2>/dev/null; then
		die "something already listens on 127.0.0.1:636; stop it first"
	fi
	setsid samba -F -M single -s "$DIR/etc/smb.conf" --debug-stdout \
		>"$DIR/log/samba-fg.log" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	for _ in $(seq 150); do
		if LDAPTLS_CACERT="$DIR/tls/ca.pem" ldapsearch -H ldaps://127.0.0.1 -x -LLL -b '' -s base \
			defaultNamingContext >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$(cat "$PIDFILE")" 2>/dev/null || die "samba exited; see $DIR/log/samba-fg.log"
		sleep 0.2
	done
	die "samba did not answer LDAPS within 30 s; see $DIR/log/samba-fg.log"
}

write_env() {
	local tmp="$ENVFILE.tmp"
	(
		umask 077
		cat >"$tmp" <<EOF
ANCHORSCAN_SAMBA_URL=ldaps://127.0.0.1:636
ANCHORSCAN_SAMBA_BIND_DN=CN=Administrator,CN=Users,$BASE_DN
ANCHORSCAN_SAMBA_PASSWORD=$PASSWORD
ANCHORSCAN_SAMBA_CA=$DIR/tls/ca.pem
ANCHORSCAN_SAMBA_BASE_DN=$BASE_DN
ANCHORSCAN_SAMBA_SEED_OU=$SEED_OU
ANCHORSCAN_SAMBA_USERS=$USERS
ANCHORSCAN_SAMBA_SEEDED=$DIR/seeded.ldif
EOF
	)
	# The test may run as the user who called sudo.
	if [ -n "${SUDO_USER:-}" ]; then
		chown "$SUDO_USER" "$tmp"
	fi
	mv "$tmp" "$ENVFILE"
}

start() {
	as_root start
	local t0=$SECONDS
	stop_samba
	phase "install" install_samba
	phase "provision" provision
	make_tls
	configure
	phase "seeding $USERS users" seed
	phase "start" start_samba
	write_env
	log "domain controller up in $((SECONDS - t0)) s (pid $(cat "$PIDFILE"))"
	echo "export ANCHORSCAN_SAMBA_ENV=$ENVFILE"
}

stop() {
	as_root stop
	stop_samba
}

# run_test stops the domain controller however the test ends.
run_test() {
	cd "$(dirname "$SELF")/.."
	trap '"$SELF" stop' EXIT
	"$SELF" start >/dev/null
	ANCHORSCAN_SAMBA_ENV="$ENVFILE" go test -tags samba -count=1 -run Samba -v ./scan/ad/
}

case "${1:-}" in
start) start ;;
stop) stop ;;
test) run_test ;;
*)
	echo "usage: $0 start|stop|test" >&2
	exit 2
	;;
esac
