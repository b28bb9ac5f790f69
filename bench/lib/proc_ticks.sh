# Sourced by the bench scripts: CPU time of a process from /proc, in clock ticks.
# ticks PID [io]: utime+stime of the process, or (io) of its threads that are not vCPUs (QEMU
# started with -name debug-threads=on names those "CPU n/TCG"): where QEMU's own backend runs.
ticks() {
    local t comm sum=0
    [[ -d /proc/$1 ]] || { echo 0; return; }
    # Fields after the ")" that ends comm: utime and stime are the 12th and 13th.
    if [[ ${2:-} != io ]]; then
        sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0
        return
    fi
    for t in /proc/$1/task/*; do
        comm=$(cat "$t/comm" 2>/dev/null) || continue
        [[ $comm == "CPU "* ]] && continue   # vCPU threads: "CPU 0/TCG", "CPU 0/KVM"
        sum=$((sum + $(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)))
    done
    echo $sum
}
