"""Benchmark of risk-signal scanning: microseconds per ``RiskMatcher.scan`` on the chat's hot path.

The chat scans every visitor message, so this measures what one message costs: short everyday
messages, a 200-character message, a 2,000-character message (the longest a visitor may send), each
without and with a signal in it (a signal costs a little more: negation and idiom checks run then).
Also the one-off cost of ``RiskMatcher.bundled()`` (compiling the phrase file at start).

    python -m bench.risk_scan [--repeat 2000]

Times are CPU time of this process (``time.process_time``), so other processes on a busy machine
disturb them less than wall time; prints the best of five rounds and the median round.
"""

from __future__ import annotations

import argparse
import statistics
import time

from triage.risk import RiskMatcher

SHORT = (
    "hej",
    "är ni öppna på lördag?",
    "jag mår typ dåligt hela tiden och vet inte vad jag ska göra",
    "min kompis dricker varje dag, hur kan jag hjälpa henne?",
    "can i talk to someone about gambling",
)
PLAIN_200 = (
    "hej! jag har druckit mycket i helgen och mår inte så bra, vet inte om jag vill prata med mamma om det. "
    "kan man vara anonym här? jag är 16 och bor i Falun, vad händer om jag berättar för er om allt "
)[:200]
RISKY_200 = (
    "hej, jag vet inte vad jag ska göra längre. pappa slår mig när han är full och jag orkar inte mer, "
    "jag har tänkt på att ta livet av mig flera gånger nu. kan ni hjälpa mig? jag är 15 och bor i Mora."
)[:200]


def _per_scan_us(matcher: RiskMatcher, texts: tuple[str, ...], repeat: int) -> tuple[float, float]:
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            for text in texts:
                matcher.scan(text)
        rounds.append((time.process_time() - start) / (repeat * len(texts)) * 1e6)
    return min(rounds), statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()

    start = time.process_time()
    matcher = RiskMatcher.bundled()
    print(f"bundled(): compiled in {(time.process_time() - start) * 1000:.0f} ms")
    assert not matcher.scan(PLAIN_200), "the plain text has no signal"
    assert matcher.scan(RISKY_200), "the risky text has signals"

    cases = {
        "short everyday messages (3–60 chars)": SHORT,
        "200 chars, no signal": (PLAIN_200,),
        "200 chars, two signals": (RISKY_200,),
        "2,000 chars, no signal": ((PLAIN_200 * 10)[:2000],),
        "2,000 chars, signals": ((PLAIN_200 * 9 + RISKY_200)[:2000],),
    }
    print(f"{'message':40} {'best µs':>9} {'median µs':>10}")
    for name, texts in cases.items():
        best, median = _per_scan_us(matcher, texts, max(1, args.repeat // (10 if "2,000" in name else 1)))
        print(f"{name:40} {best:9.1f} {median:10.1f}")


if __name__ == "__main__":
    main()
