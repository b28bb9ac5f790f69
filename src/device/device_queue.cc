#include "device/device_queue.h"

#include "base/eventfd.h"
#include "base/log.h"

namespace vnet::device {

void report_ring_error(DeviceQueue& q, const QueueContext& ctx) {
  if (q.error_reported) return;
  q.error_reported = true;
  q.counters.add_ring_error(q.ring.error());
  // QEMU registers an error notifier on this fd and reports the broken queue itself.
  if (q.err_fd >= 0) eventfd_signal(q.err_fd);
  // Cold path: at most once per ring start.
  log::warn("{}: virtqueue {} broken by the driver ({}); the queue stops until the ring is restarted",
            ctx.device_name, ctx.vq, virtio::to_string(q.ring.error()));
}

void publish_and_notify(DeviceQueue& q) {
  q.ring.publish_used();
  if (q.ring.need_notify() && q.call_fd >= 0) {
    eventfd_signal(q.call_fd);
    q.counters.add_call();
  }
}

}  // namespace vnet::device
