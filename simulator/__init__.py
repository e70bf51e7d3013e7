"""The simulator: scenario files (`scenario`), their run by the real engine over the daemon's change-feed path on a
simulated clock (`run`), and the demo accounts built the same way (`demo`). Uses `bookkeeper/` and `feeds/`; neither
uses it."""
