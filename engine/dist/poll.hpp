#pragma once
// Waiting with a deadline: how every collective waits, so that a dead or hung rank turns into
// an error instead of a hang.
#include <functional>

namespace kestrel::dist {

// Calls `done` until it returns true (then returns true) or until `timeout_seconds` have
// passed (then false). Between calls it first yields, then sleeps with a growing pause of up to
// a millisecond: a waiting rank leaves the cores to the ranks it waits for (the tests run
// three ranks on two cores) at a cost of at most that millisecond of latency.
bool poll_until(const std::function<bool()>& done, double timeout_seconds);

}  // namespace kestrel::dist
