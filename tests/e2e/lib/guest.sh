# Helpers for bash e2e tests that drive vnet test guests. Source it:
#
#   source "$(git rev-parse --show-toplevel)/tests/e2e/lib/guest.sh"
#   trap vnet_guest_stop_all EXIT
#   vnet_guest_start a --netdev vhost-user:$SOCK --ip 10.0.0.1/24
#   vnet_guest_exec a 'ping -c 1 10.0.0.2'
#
# VNET_RUNDIR (default: a fresh mktemp -d) holds sockets and logs of the guests.
# shellcheck shell=bash

VNET_REPO=${VNET_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
VNET_RUNDIR=${VNET_RUNDIR:-$(mktemp -d /tmp/vnet-e2e.XXXXXX)}
VNET_GUESTS=()

# vnet_guest_start NAME [run-guest options...]: boot and wait until ready.
vnet_guest_start() {
    local name=$1; shift
    # Registered first, so a half-started guest is stopped too. When starting
    # guests in parallel (vnet_guest_start ... &), the subshell's registration
    # is lost: add the names to VNET_GUESTS in the parent as well.
    [[ " ${VNET_GUESTS[*]} " == *" $name "* ]] || VNET_GUESTS+=("$name")
    "$VNET_REPO/scripts/guest/run-guest" --name "$name" --rundir "$VNET_RUNDIR" "$@" >/dev/null
}

# vnet_guest_exec [-t SEC] [-i] NAME COMMAND...: run COMMAND in guest NAME.
# Exit status is the command's (124/125: host-side timeout/error).
vnet_guest_exec() {
    local opts=()
    while [[ ${1:-} == -* ]]; do
        case $1 in
            -t) opts+=(-t "$2"); shift 2 ;;
            *) opts+=("$1"); shift ;;
        esac
    done
    local name=$1; shift
    "$VNET_REPO/tests/e2e/lib/guest-exec" "${opts[@]}" "$VNET_RUNDIR/$name.cmd.sock" "$@"
}

# vnet_guest_wait_iperf NAME: wait (max 10 s) until the guest's iperf3 server
# listens. After each test the server closes and reopens its socket, which
# takes a moment under TCG: back-to-back clients otherwise get ECONNREFUSED.
vnet_guest_wait_iperf() {
    vnet_guest_exec -t 15 "$1" \
        'for i in $(seq 100); do netstat -ltn | grep -q ":5201 " && exit 0; sleep 0.1; done; exit 1'
}

vnet_guest_stop() {
    "$VNET_REPO/scripts/guest/stop-guest" --rundir "$VNET_RUNDIR" --name "$1"
}

# Stop every guest started with vnet_guest_start (in parallel). For traps.
vnet_guest_stop_all() {
    local n pids=()
    for n in "${VNET_GUESTS[@]}"; do vnet_guest_stop "$n" & pids+=($!); done
    for n in "${pids[@]}"; do wait "$n" || true; done
    VNET_GUESTS=()
}
