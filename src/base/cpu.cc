#include "base/cpu.h"

#include <pthread.h>
#include <sched.h>

namespace vnet {

Status pin_current_thread(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) return sys_error("pthread_setaffinity_np(core " + std::to_string(core) + ")", rc);
  return {};
}

}  // namespace vnet
