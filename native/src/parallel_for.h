// Splitting a loop over host memory (repacking or copying weights while a model loads) across the CPU's cores.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

// Threads parallelFor uses by default: the CPU's cores, at most 8 (a load is bounded by memory bandwidth well before).
inline uint32_t hostThreads() {
  return std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
}

// Runs body(begin, end) over [0, n) in up to `threads` contiguous ranges of at least `grain` items each, one range
// per thread, the calling thread taking the first. Returns when every range is done; the first exception thrown
// by a range is rethrown then (if no thread can be started, the calling thread runs the ranges itself).
template <typename Body>
void parallelFor(uint64_t n, uint64_t grain, uint32_t threads, const Body& body) {
  const uint64_t ranges = std::max<uint64_t>(1, std::min<uint64_t>(threads, n / std::max<uint64_t>(1, grain)));
  if (ranges == 1) {
    if (n > 0) body(uint64_t(0), n);
    return;
  }
  std::vector<std::exception_ptr> errors(ranges);
  auto run = [&](uint64_t r) {
    try {
      body(n * r / ranges, n * (r + 1) / ranges);
    } catch (...) {
      errors[r] = std::current_exception();
    }
  };
  std::vector<std::thread> helpers;
  uint64_t started = 1;
  for (; started < ranges; ++started) {
    try {
      helpers.emplace_back(run, started);
    } catch (...) {
      break;  // no more threads: this one runs the rest below
    }
  }
  run(0);
  for (uint64_t r = started; r < ranges; ++r) run(r);
  for (std::thread& t : helpers) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}
