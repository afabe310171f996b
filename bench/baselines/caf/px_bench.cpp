// CAF 0.17 baseline for the plexspaces benchmarks (see bench/README.md).
//
// Build: g++ -O2 -std=c++17 px_bench.cpp -o px_bench_caf -lcaf_core -lpthread
// Run:   px_bench_caf NAME
// Prints exactly one JSON line on stdout:
//   {"bench":NAME,"impl":"caf","value":X,"unit":U, ...extra}
// and exits 0; on a failed self-check it prints the reason on stderr and
// exits 1. BENCH_SCALE (a float, default 1) scales the message/actor counts.
// The scheduler runs 2 worker threads ("scheduler.max-threads").

#include <caf/all.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using caf::actor;
using caf::behavior;
using caf::event_based_actor;

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using go_atom = caf::atom_constant<caf::atom("go")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using next_atom = caf::atom_constant<caf::atom("next")>;
using inc_atom = caf::atom_constant<caf::atom("inc")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using forked_atom = caf::atom_constant<caf::atom("forked")>;
using park_atom = caf::atom_constant<caf::atom("park")>;

struct result {
  double value = 0;
  std::string unit;
  std::vector<std::pair<std::string, double>> extra;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "px_bench(caf): self-check failed: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

double scale() {
  const char* s = std::getenv("BENCH_SCALE");
  if (s == nullptr || *s == '\0') return 1.0;
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || !(v > 0)) fail(std::string("bad BENCH_SCALE: ") + s);
  return v;
}

int64_t scaled(int64_t n) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(n) * scale()));
}

using clk = std::chrono::steady_clock;

double secs(clk::time_point a, clk::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long long size = 0, resident = 0;
  f >> size >> resident;
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

// Nearest-rank percentile of a sorted vector.
int64_t pct(const std::vector<int64_t>& sorted, double p) {
  auto n = static_cast<int64_t>(sorted.size());
  auto k = static_cast<int64_t>(std::ceil(p * static_cast<double>(n)));
  k = std::min(n, std::max<int64_t>(1, k));
  return sorted[static_cast<size_t>(k - 1)];
}

// Reply target: the sender of the message being processed.
actor sender_of(event_based_actor* self) {
  return caf::actor_cast<actor>(self->current_sender());
}

// --------------------------------------------------------------- ping_pong
// Two actors, N round trips; each direction counts as one message.

result bench_ping_pong(caf::actor_system& sys) {
  const int64_t n = scaled(2000000);
  auto served = std::make_shared<int64_t>(0);
  auto pong = sys.spawn([served](event_based_actor* self) -> behavior {
    return {[=](ping_atom) {
      ++*served;
      self->send(sender_of(self), pong_atom::value);
    }};
  });
  caf::scoped_actor main{sys};
  actor main_h = caf::actor_cast<actor>(main);
  auto done = std::make_shared<int64_t>(0);
  auto ping = sys.spawn([=](event_based_actor* self) -> behavior {
    return {
      [=](go_atom) { self->send(pong, ping_atom::value); },
      [=](pong_atom) {
        if (++*done < n)
          self->send(pong, ping_atom::value);
        else
          self->send(main_h, done_atom::value, *done);
      },
    };
  });
  int64_t got = -1;
  auto t0 = clk::now();
  main->send(ping, go_atom::value);
  main->receive([&](done_atom, int64_t c) { got = c; });
  auto t1 = clk::now();
  check(got == n && *served == n, "ping_pong round trips");
  return {2.0 * static_cast<double>(n) / secs(t0, t1), "msg/s",
          {{"round_trips", static_cast<double>(n)}}};
}

// ------------------------------------------------------------- thread_ring
// 503 actors in a ring; the token is an int64 counting down the hops still
// to make. Injected into node 0 with value H: H node-to-node sends, and the
// token stops at node H % 503.

result bench_thread_ring(caf::actor_system& sys) {
  const int ring = 503;
  const int64_t hops = scaled(10000000);
  caf::scoped_actor main{sys};
  actor main_h = caf::actor_cast<actor>(main);
  auto seen = std::make_shared<std::vector<int64_t>>(ring, 0);
  std::vector<actor> nodes;
  nodes.reserve(ring);
  for (int id = 0; id < ring; ++id) {
    nodes.push_back(sys.spawn([=](event_based_actor* self) -> behavior {
      return {[=](next_atom, actor next) {
        self->become([=](int64_t v) {
          ++(*seen)[static_cast<size_t>(id)];
          if (v == 0)
            self->send(main_h, done_atom::value, id);
          else
            self->send(next, v - 1);
        });
      }};
    }));
  }
  for (int id = 0; id < ring; ++id)
    main->send(nodes[static_cast<size_t>(id)], next_atom::value,
               nodes[static_cast<size_t>((id + 1) % ring)]);
  int last = -1;
  auto t0 = clk::now();
  main->send(nodes[0], hops);
  main->receive([&](done_atom, int id) { last = id; });
  auto t1 = clk::now();
  int64_t total = std::accumulate(seen->begin(), seen->end(), int64_t{0});
  check(last == static_cast<int>(hops % ring), "thread_ring last node");
  check(total == hops + 1, "thread_ring tokens received");
  for (auto& a : nodes) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return {static_cast<double>(hops) / secs(t0, t1), "hops/s",
          {{"ring", ring}, {"hops", static_cast<double>(hops)}}};
}

// ---------------------------------------------------------------- counting
// One producer sends N `inc` messages to one counter, then asks it for its
// count; the clock stops when the count arrives.

result bench_counting(caf::actor_system& sys) {
  const int64_t n = scaled(10000000);
  caf::scoped_actor main{sys};
  actor main_h = caf::actor_cast<actor>(main);
  auto counter = sys.spawn([](event_based_actor* self) -> behavior {
    auto count = std::make_shared<int64_t>(0);
    return {
      [=](inc_atom) { ++*count; },
      [=](count_atom, actor to) { self->send(to, count_atom::value, *count); },
    };
  });
  auto producer = sys.spawn([=](event_based_actor* self) -> behavior {
    return {[=](go_atom) {
      for (int64_t i = 0; i < n; ++i) self->send(counter, inc_atom::value);
      self->send(counter, count_atom::value, main_h);
    }};
  });
  int64_t got = -1;
  auto t0 = clk::now();
  main->send(producer, go_atom::value);
  main->receive([&](count_atom, int64_t c) { got = c; });
  auto t1 = clk::now();
  check(got == n, "counting count");
  return {static_cast<double>(n) / secs(t0, t1), "msg/s",
          {{"messages", static_cast<double>(n)}}};
}

// --------------------------------------------------------------- fork_join
// The main thread (a scoped_actor) spawns N event-based actors with
// actor_system::spawn; each sends one `forked` message to the main actor and
// terminates (it sets no behavior). The clock stops when all N messages
// arrived and the registry's running-actor count is back to where it was
// before (all children are gone). Spawning from inside an event-based actor
// is pathological in CAF 0.17 on 2 cores (spinlock contention on the
// work-stealing queue: 300,000 children took 136 s), so it is not used.

result bench_fork_join(caf::actor_system& sys) {
  const int64_t n = scaled(1000000);
  caf::scoped_actor main{sys};
  actor main_h = caf::actor_cast<actor>(main);
  const size_t base = sys.registry().running();
  auto t0 = clk::now();
  for (int64_t i = 0; i < n; ++i)
    sys.spawn([main_h](event_based_actor* child) {
      child->send(main_h, forked_atom::value);
    });
  int64_t got = 0;
  main->receive_for(got, n)([](forked_atom) {});
  while (sys.registry().running() > base) std::this_thread::yield();
  auto t1 = clk::now();
  check(got == n, "fork_join children");
  return {static_cast<double>(n) / secs(t0, t1), "actors/s",
          {{"actors", static_cast<double>(n)}}};
}

// --------------------------------------------------------------------- big
// Savina "Big": A actors; each makes M ping round trips to uniformly random
// other actors (one ping outstanding per actor; the peer answers with pong).
// Messages = 2 * A * M.

struct big_state {
  int me = 0;
  int64_t remaining = 0;
  int64_t served = 0;
  uint64_t rng = 0;
};

result bench_big(caf::actor_system& sys) {
  const int a = 1000;
  const int64_t m = scaled(5000);
  caf::scoped_actor main{sys};
  actor main_h = caf::actor_cast<actor>(main);
  auto peers = std::make_shared<std::vector<actor>>();
  auto states = std::make_shared<std::vector<big_state>>(static_cast<size_t>(a));
  for (int i = 0; i < a; ++i) {
    big_state* st = &(*states)[static_cast<size_t>(i)];
    st->me = i;
    st->remaining = m;
    st->rng = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1);
    std::vector<actor>* pv = peers.get();
    peers->push_back(sys.spawn([=](event_based_actor* self) -> behavior {
      auto send_ping = [=] {
        st->rng ^= st->rng << 13;
        st->rng ^= st->rng >> 7;
        st->rng ^= st->rng << 17;
        auto k = static_cast<int>(st->rng % static_cast<uint64_t>(a - 1));
        if (k >= st->me) ++k;
        --st->remaining;
        self->send((*pv)[static_cast<size_t>(k)], ping_atom::value);
      };
      return {
        [=](ping_atom) {
          ++st->served;
          self->send(sender_of(self), pong_atom::value);
        },
        [=](pong_atom) {
          if (st->remaining > 0)
            send_ping();
          else
            self->send(main_h, done_atom::value);
        },
        [=](go_atom) { send_ping(); },
      };
    }));
  }
  auto t0 = clk::now();
  for (auto& p : *peers) main->send(p, go_atom::value);
  int done = 0;
  main->receive_for(done, a)([](done_atom) {});
  auto t1 = clk::now();
  int64_t served = 0;
  for (auto& st : *states) served += st.served;
  check(served == static_cast<int64_t>(a) * m, "big pings served");
  for (auto& p : *peers) caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  return {2.0 * a * static_cast<double>(m) / secs(t0, t1), "msg/s",
          {{"actors", a}, {"pings_per_actor", static_cast<double>(m)}}};
}

// ------------------------------------------------------------- ask_latency
// One client makes N sequential request/reply calls to one event-based
// server; each call is timed with steady_clock.
// value/p99: the client is an event-based actor on the scheduler using
// request(...).await(...) -- actor to actor, and the client handles nothing
// else until the reply is in (the closest CAF form to a blocking call).
// p50_blocking/p99_blocking: the client is a scoped_actor (its own thread)
// blocking in request(...).receive(...). That figure is dominated by the
// work-stealing scheduler's idle policy (an idle worker sleeps ~50 us
// between polls), so it is reported as an extra only, over N/10 calls.

result bench_ask_latency(caf::actor_system& sys) {
  const int64_t n = scaled(1000000);
  auto served = std::make_shared<int64_t>(0);
  auto server = sys.spawn([served](event_based_actor*) -> behavior {
    return {[=](ping_atom) {
      ++*served;
      return pong_atom::value;
    }};
  });
  // The blocking form is ~15x slower, so it makes a tenth of the calls.
  const int64_t nb = std::max<int64_t>(1, n / 10);
  std::vector<int64_t> samples(static_cast<size_t>(nb));
  caf::scoped_actor main{sys};
  bool ok = true;
  auto t0 = clk::now();
  for (int64_t i = 0; i < nb; ++i) {
    auto a = clk::now();
    main->request(server, caf::infinite, ping_atom::value)
      .receive([](pong_atom) {}, [&](caf::error&) { ok = false; });
    auto b = clk::now();
    samples[static_cast<size_t>(i)] =
      std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
  }
  auto t1 = clk::now();
  check(ok && *served == nb, "ask_latency blocking calls");

  // Event-based client with request(...).await(...).
  auto samples2 = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(n));
  actor main_h = caf::actor_cast<actor>(main);
  auto client = sys.spawn([=](event_based_actor* self) -> behavior {
    auto i = std::make_shared<int64_t>(0);
    auto start = std::make_shared<clk::time_point>();
    auto call = std::make_shared<std::function<void()>>();
    *call = [=] {
      *start = clk::now();
      self->request(server, caf::infinite, ping_atom::value)
        .await([=](pong_atom) {
          (*samples2)[static_cast<size_t>(*i)] =
            std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - *start)
              .count();
          if (++*i < n)
            (*call)();
          else {
            self->send(main_h, done_atom::value, *i);
            *call = nullptr; // break the self-reference cycle
          }
        });
    };
    return {[=](go_atom) { (*call)(); }};
  });
  int64_t got = -1;
  auto t2 = clk::now();
  main->send(client, go_atom::value);
  main->receive([&](done_atom, int64_t c) { got = c; });
  auto t3 = clk::now();
  check(got == n && *served == nb + n, "ask_latency await calls");

  auto& s2 = *samples2;
  double mean = static_cast<double>(std::accumulate(s2.begin(), s2.end(), int64_t{0}))
                / static_cast<double>(n);
  std::sort(samples.begin(), samples.end());
  std::sort(s2.begin(), s2.end());
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  return {static_cast<double>(pct(s2, 0.50)), "ns",
          {{"p99", static_cast<double>(pct(s2, 0.99))},
           {"p999", static_cast<double>(pct(s2, 0.999))},
           {"mean", mean},
           {"calls", static_cast<double>(n)},
           {"calls_per_s", static_cast<double>(n) / secs(t2, t3)},
           {"p50_blocking", static_cast<double>(pct(samples, 0.50))},
           {"p99_blocking", static_cast<double>(pct(samples, 0.99))},
           {"calls_blocking", static_cast<double>(nb)},
           {"calls_per_s_blocking", static_cast<double>(nb) / secs(t0, t1)}}};
}

// ------------------------------------------------------------- idle_memory
// N event-based actors waiting for a message. Bytes per actor from the RSS
// delta (/proc/self/statm). The handle vector is allocated and touched
// before the first reading, so its 8 bytes/actor are not counted.

result bench_idle_memory(caf::actor_system& sys) {
  const int64_t n = scaled(1000000);
  auto started = std::make_shared<std::atomic<int64_t>>(0);
  std::vector<actor> parked(static_cast<size_t>(n));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int64_t rss0 = rss_bytes();
  for (int64_t i = 0; i < n; ++i)
    parked[static_cast<size_t>(i)] = sys.spawn([started](event_based_actor*) -> behavior {
      started->fetch_add(1, std::memory_order_relaxed);
      return {[](park_atom) {}};
    });
  while (started->load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t rss1 = rss_bytes();
  check(sys.registry().running() >= static_cast<size_t>(n), "idle_memory actors alive");
  return {static_cast<double>(rss1 - rss0) / static_cast<double>(n), "bytes",
          {{"actors", static_cast<double>(n)}}};
}

std::string num(double v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 9e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  using fn = result (*)(caf::actor_system&);
  const std::map<std::string, fn> benches = {
    {"ping_pong", bench_ping_pong},     {"thread_ring", bench_thread_ring},
    {"counting", bench_counting},       {"fork_join", bench_fork_join},
    {"big", bench_big},                 {"ask_latency", bench_ask_latency},
    {"idle_memory", bench_idle_memory},
  };
  if (argc != 2 || benches.count(argv[1]) == 0) {
    std::fprintf(stderr, "usage: %s NAME  (NAME: ", argv[0]);
    for (auto& kv : benches) std::fprintf(stderr, "%s ", kv.first.c_str());
    std::fprintf(stderr, ")\n");
    return 2;
  }
  const std::string name = argv[1];
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  // The process exits via _Exit below; actors still alive then (parked
  // ones, cyclic rings) are not waited for.
  auto* sys = new caf::actor_system(cfg);
  if (sys->scheduler().num_workers() != 2) fail("scheduler does not have 2 workers");
  result r = benches.at(name)(*sys);
  std::string line = "{\"bench\":\"" + name + "\",\"impl\":\"caf\",\"value\":" + num(r.value)
                     + ",\"unit\":\"" + r.unit + "\"";
  for (auto& kv : r.extra) line += ",\"" + kv.first + "\":" + num(kv.second);
  line += "}\n";
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
  std::_Exit(0);
}
