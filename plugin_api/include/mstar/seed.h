// Deterministic seeds for independent random streams, the same in every
// plugin and every standard library: the world draws an image's pixels from
// stream_seed(seed, {split, group, image}), a benchmark a batch's sampling
// from stream_seed(seed, {tag, batch}). Header-only.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace mstar {

// One step of splitmix64: advances `state` and returns a well-mixed word.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Seed of an independent stream named by a path of integers. Streams per
// item make an item's draws independent of how many items precede it.
inline uint64_t stream_seed(uint64_t seed, std::initializer_list<uint64_t> path) {
  uint64_t state = seed;
  uint64_t h = splitmix64(state);
  for (uint64_t part : path) {
    state = h ^ (part + 0x632BE59BD9B4E019ull);
    h = splitmix64(state);
  }
  return h;
}

}  // namespace mstar
