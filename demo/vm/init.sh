#!/bin/busybox sh
# /init of pmptop's demo VM (packed into the initramfs by vm.mjs): load the virtio and 9p modules, mount the
# host tree over 9p with pmptop.msize= from the kernel command line, copy it into tmpfs (pmptop.copies= times
# and/or for pmptop.seconds=), print PMPTOP-VM: markers on the console, power off. pmptop.check=1: only prove
# that /init runs.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
say() { echo "PMPTOP-VM: $*"; }
arg() {
	for w in $(cat /proc/cmdline); do
		case "$w" in pmptop.$1=*) echo "${w#*=}"; return ;; esac
	done
	echo "$2"
}
now() { cut -d' ' -f1 /proc/uptime; }
off() { sync; poweroff -f; sleep 10; }
msize=$(arg msize 8192)
copies=$(arg copies 0)
tag=$(arg tag hostshare)
say "init kernel $(uname -r) cpus $(grep -c ^processor /proc/cpuinfo)"
for m in $(cat /modules.load); do
	insmod /lib/modules/$m || say "error insmod $m"
done
if [ "$(arg check 0)" = 1 ]; then
	say "check ok"
	off
fi
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=$msize $tag /mnt; then
	say "error mount $tag failed"
	off
fi
say "mounted $tag $(grep " /mnt " /proc/mounts | grep -o 'msize=[0-9]*')"
mount -t tmpfs -o size=90% tmpfs /dst
# Another copy while: fewer than pmptop.copies done (0: no limit) and less than pmptop.seconds elapsed since the
# first copy started (0: no limit). Both 0: until the VM is stopped.
seconds=$(arg seconds 0)
n=0
first=$(now)
more() {
	[ "$copies" != 0 ] && [ "$n" -ge "$copies" ] && return 1
	[ "$seconds" != 0 ] && [ "$n" -gt 0 ] && awk "BEGIN { exit !($(now) - $first >= $seconds) }" && return 1
	return 0
}
while more; do
	n=$((n + 1))
	say "copy start $n"
	t0=$(now)
	mkdir /dst/tree
	( while sleep 10; do say "progress $(find /dst/tree -type f | wc -l) files (copy $n)"; done ) &
	ticker=$!
	cp -a /mnt/. /dst/tree/ || say "error cp exited $?"
	kill $ticker
	t1=$(now)
	files=$(find /dst/tree -type f | wc -l)
	bytes=$(find /dst/tree -type f -exec stat -c %s {} + | awk '{ s += $1 } END { printf "%d", s }')
	say "copy done $files files $bytes bytes $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s (copy $n)"
	rm -rf /dst/tree
done
say "end $n copies"
umount /mnt
off
