// pure16/train/memory.hpp — resident memory of this process (Linux /proc), for reports.
//
// Contract:
//  * peak_rss_bytes() is the process's high-water mark of resident memory (VmHWM in
//    /proc/self/status); current_rss_bytes() is VmRSS. Both return 0 where /proc is absent.
//  * reset_peak_rss() writes "5" to /proc/self/clear_refs, which makes the kernel reset
//    VmHWM to the current RSS (Linux >= 4.0). Calling it before each of several runs in one
//    process measures each run's own peak: the figure then includes what the process
//    already holds (e.g. the data set), which is the same for every run. Returns false when
//    the reset is not possible (then the peak is the process's since its start).
#pragma once

#include <cstddef>
#include <fstream>
#include <string>

namespace pure16::train {

namespace detail {
inline std::size_t proc_status_kib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      try {
        return static_cast<std::size_t>(std::stoull(line.substr(key.size() + 1)));
      } catch (...) {
        return 0;
      }
    }
  }
  return 0;
}
}  // namespace detail

inline std::size_t peak_rss_bytes() {
  return detail::proc_status_kib("VmHWM") * 1024;
}
inline std::size_t current_rss_bytes() {
  return detail::proc_status_kib("VmRSS") * 1024;
}

inline bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace pure16::train
