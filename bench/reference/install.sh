#!/usr/bin/env bash
# Install the reference servers (Postfix, Dovecot) from Debian's packages for the benchmark,
# without letting them configure or start themselves as system services.
#
#   bash bench/reference/install.sh
#
# Postfix is preseeded to "No configuration"; while apt runs, a policy-rc.d refuses every
# service start (unless one is already in place). Afterwards any system postfix/dovecot that
# did start is stopped and disabled, so nothing listens on ports 25, 110 or 143: the benchmark
# runs its own instances on loopback high ports (bench/reference/servers.py).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (apt-get install)" >&2
    exit 2
fi

packages=(postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd)
needed=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || needed+=("$package")
done

if [ ${#needed[@]} -gt 0 ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    echo "postfix postfix/mailname string bench.test" | debconf-set-selections
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=yes
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${needed[@]}" >/dev/null
    if [ -n "$made_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
fi

# Dovecot stores mail as an unprivileged user; the benchmark's instance uses this one.
if ! getent passwd postierbench >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin postierbench
fi

# Stop and disable system instances that an install (or an earlier one) started.
for service in postfix dovecot; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now "$service" >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
done
if [ -f /var/spool/postfix/pid/master.pid ] && postfix status >/dev/null 2>&1; then
    postfix stop >/dev/null 2>&1 || true
fi
if [ -f /run/dovecot/master.pid ] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
    doveadm stop >/dev/null 2>&1 || kill "$(cat /run/dovecot/master.pid)" || true
fi

echo "postfix $(postconf -d -h mail_version 2>/dev/null), dovecot $(dovecot --version)"
