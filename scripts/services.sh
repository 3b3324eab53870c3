#!/usr/bin/env bash
# Start what the build phase needs: a Docker daemon, a slim local Python base image and an image
# registry on loopback. Docker Hub is not reachable from CI machines, so nothing here pulls from it.
#
# Idempotent: packages are installed only when missing, a running daemon or registry is reused, the base
# image is built once (debootstrap + docker import, about 35 s) and kept in a data root that survives
# between runs on the same machine. Safe to run again at any time.
#
#   scripts/services.sh            install/start everything, print how to use it
#   scripts/services.sh status     say what is running
#   scripts/services.sh stop       stop the daemon and the registry this script started
#
# Settings (environment):
#   PLAYBOOK_DOCKER_DIR     state folder (default /var/lib/playbook-docker): data root, sockets, logs
#   PLAYBOOK_REGISTRY_PORT  registry port on 127.0.0.1 (default 5000, or a free one when 5000 is taken)
#   PLAYBOOK_BASE_IMAGE     tag of the local Python base image (default local/python:3.11-slim)
#   PLAYBOOK_STORAGE_DRIVER overlay2 (default) or vfs (slower, works without overlayfs)
#   DEBIAN_MIRROR           mirror for debootstrap (default http://deb.debian.org/debian)
# The file $PLAYBOOK_DOCKER_DIR/services.env records DOCKER_HOST and PLAYBOOK_REGISTRY; playbook.image.build
# reads it, so nothing needs exporting for the playbook itself.
set -euo pipefail

D=${PLAYBOOK_DOCKER_DIR:-/var/lib/playbook-docker}
BASE_IMAGE=${PLAYBOOK_BASE_IMAGE:-local/python:3.11-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SOCK="$D/docker.sock"
export DOCKER_HOST="unix://$SOCK"

say() { echo "services: $*"; }
die() { echo "services: $*" >&2; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

daemon_up() { docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and there is no apt-get here: install them with your system's package manager (Debian/Ubuntu names: docker.io debootstrap docker-registry)."
  [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; installing them needs root: sudo $0"
  say "installing ${missing[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_dockerd() {
  if daemon_up; then
    say "dockerd already answers on $SOCK"
    return 0
  fi
  if alive "$D/dockerd.pid"; then
    say "dockerd (pid $(cat "$D/dockerd.pid")) is starting; waiting"
  else
    rm -f "$D/dockerd.pid" "$SOCK"
    # Flags that work in this sandbox (docs/build-host-facts.md §1): no iptables, no bridge (containers use --network=host).
    setsid nohup dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver="${PLAYBOOK_STORAGE_DRIVER:-overlay2}" \
      --data-root="$D/data" --exec-root="$D/exec" -H "unix://$SOCK" --pidfile="$D/dockerd.pid" \
      >"$D/dockerd.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do
    daemon_up && { say "dockerd $(docker version --format '{{.Server.Version}}') up on $SOCK"; return 0; }
    sleep 0.25
  done
  tail -20 "$D/dockerd.log" >&2 || true
  die "dockerd did not answer within 30 s; its log is $D/dockerd.log (overlay2 needs a kernel with overlayfs: try PLAYBOOK_STORAGE_DRIVER=vfs)."
}

build_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image $BASE_IMAGE already built"
    return 0
  fi
  local root
  root=$(mktemp -d "$D/rootfs.XXXXXX")
  say "building $BASE_IMAGE with debootstrap (one time, about a minute)"
  local start=$SECONDS
  debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates bookworm "$root" "$MIRROR" \
    >"$D/debootstrap.log" 2>&1 || { tail -20 "$D/debootstrap.log" >&2; rm -rf "$root"; die "debootstrap failed (log: $D/debootstrap.log)"; }
  # Lean: no apt caches or lists, docs, man pages or locales in the base.
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' -exec rm -rf {} + 2>/dev/null || true
  find "$root/usr/lib/python3" "$root/usr/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true
  tar -C "$root" -c . | docker import \
    --change 'ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PIP_BREAK_SYSTEM_PACKAGES=1' \
    --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
  say "base image $BASE_IMAGE built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

registry_up_py() {
  [ -f "$D/registry.port" ] || return 1
  python3 - "$(cat "$D/registry.port")" <<'EOF'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v2/", timeout=2)
except Exception:
    sys.exit(1)
EOF
}

start_registry() {
  if alive "$D/registry.pid" && registry_up_py; then
    say "registry already serving on 127.0.0.1:$(cat "$D/registry.port")"
    return 0
  fi
  alive "$D/registry.pid" && kill "$(cat "$D/registry.pid")" 2>/dev/null || true
  local port=${PLAYBOOK_REGISTRY_PORT:-5000}
  if ! port_free "$port"; then
    [ -n "${PLAYBOOK_REGISTRY_PORT:-}" ] && die "port $port (PLAYBOOK_REGISTRY_PORT) is taken; pick another."
    port=$(free_port)
  fi
  mkdir -p "$D/registry/data"
  cat >"$D/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $D/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  echo "$port" >"$D/registry.port"
  setsid nohup docker-registry serve "$D/registry/config.yml" >"$D/registry.log" 2>&1 </dev/null &
  echo $! >"$D/registry.pid"
  for _ in $(seq 1 40); do
    registry_up_py && { say "registry serving on 127.0.0.1:$port"; return 0; }
    sleep 0.25
  done
  tail -20 "$D/registry.log" >&2 || true
  die "the registry did not answer on 127.0.0.1:$port; its log is $D/registry.log"
}

write_env() {
  cat >"$D/services.env" <<EOF
DOCKER_HOST=unix://$SOCK
PLAYBOOK_REGISTRY=127.0.0.1:$(cat "$D/registry.port")
PLAYBOOK_BASE_IMAGE=$BASE_IMAGE
EOF
}

status() {
  if daemon_up; then say "dockerd: up on $SOCK"; else say "dockerd: down"; fi
  if registry_up_py; then say "registry: up on 127.0.0.1:$(cat "$D/registry.port")"; else say "registry: down"; fi
  if ! daemon_up; then say "base image: unknown (the daemon is down)"
  elif docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then say "base image: $BASE_IMAGE"
  else say "base image: missing (run $0 to build it)"; fi
}

stop() {
  alive "$D/registry.pid" && kill "$(cat "$D/registry.pid")" && say "registry stopped"
  if alive "$D/dockerd.pid"; then
    kill "$(cat "$D/dockerd.pid")"
    for _ in $(seq 1 60); do alive "$D/dockerd.pid" || break; sleep 0.25; done
    say "dockerd stopped (images stay in $D/data)"
  fi
  rm -f "$D/services.env"
}

case "${1:-up}" in
  status) status; exit 0 ;;
  stop) stop; exit 0 ;;
  up) ;;
  *) die "usage: $0 [up|status|stop]" ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  die "dockerd and debootstrap need root, and this shell is uid $(id -u). Run: sudo $0 (or run the tests without Docker: they skip the docker tier and say why)."
fi
install_packages
mkdir -p "$D"
start_dockerd
build_base_image
start_registry
write_env
cat <<EOF
services: ready. To use this daemon from a shell:
  export DOCKER_HOST=unix://$SOCK
  export PLAYBOOK_REGISTRY=127.0.0.1:$(cat "$D/registry.port")
EOF
