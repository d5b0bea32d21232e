"""Round 1 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_WAIT_BLOCK = """\
            requested = server_delay(error)
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
            if wait >= deadline.remaining():
                raise DeadlineExceeded(
                    f"a {wait:g} s wait before attempt {attempt + 1} would end after the "
                    f"deadline ({deadline.remaining():g} s left)"
                ) from error
            sleep(wait)
"""

_COUNT_TURN = """\
            run.steps += 1
            if completion.usage is not None:
                run.llm_tokens += completion.usage.total_tokens
"""

_TOKEN_PRECHECK = """\
            if run.llm_tokens >= budget.max_llm_tokens:
                raise BudgetExceeded(
                    "max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"
                )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop
    _m(
        "expired-only-once-past-the-deadline",
        {"lab03.run-deadline-stops-loop"},
        "reads 'raise once the deadline has passed' literally and writes expired() as "
        "clock() > at: at the very instant of the deadline (a turn or a tool that ends exactly "
        "on it, as frozen-clock latencies do) the run is not expired, remaining() is 0, and "
        "the loop still sends a request, with a zero timeout, though no time is left",
        ("        return self.remaining() <= 0", "        return self.clock() > self.at"),
    ),
    # -- lab03.deadline-exceeded-recorded
    _m(
        "deadline-error-is-a-timeout-error",
        {"lab03.deadline-exceeded-recorded"},
        "makes DeadlineExceeded also a TimeoutError 'so that code catching timeouts sees it "
        "too': lab 01's is_transient now calls a passed deadline transient, and any retry "
        "layer above call_llm tries a run whose time is up again",
        ("class DeadlineExceeded(BudgetExceeded):", "class DeadlineExceeded(BudgetExceeded, TimeoutError):"),
    ),
    _m(
        "step-counted-before-the-request",
        {"lab03.deadline-exceeded-recorded"},
        "counts the step when the turn starts, like the seed's for-loop counter: when the "
        "deadline runs out inside a turn (a timed-out request, a backoff that does not fit) "
        "the failed run records one step more than the turns it finished",
        (_COUNT_TURN, """\
            if completion.usage is not None:
                run.llm_tokens += completion.usage.total_tokens
"""),
        ("            completion = call_llm(\n",
         "            run.steps += 1\n            completion = call_llm(\n"),
    ),
    # -- lab03.step-timeout-sent
    _m(
        "step-timeout-not-passed-on",
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "passes the deadline to call_llm and trusts its 30 s default for the step timeout: "
        "a run given a shorter step timeout sends 30 s requests, and a run given a longer one "
        "sends 30 s where the time left (less than its step timeout) was due",
        ("                client, run.messages, deadline=deadline, step_timeout=step_timeout,\n",
         "                client, run.messages, deadline=deadline,\n"),
    ),
    _m(
        "connect-timeout-kept-at-five-seconds",
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "copies the OpenAI client's own default, httpx.Timeout(600, connect=5.0), and only "
        "swaps the 600 for the computed timeout: with a step timeout or a time left under "
        "5 s the connect part of the request's timeout is still 5 s",
        ("from openai import OpenAI\n", "import httpx\nfrom openai import OpenAI\n"),
        ("                timeout=timeout,\n",
         "                timeout=httpx.Timeout(timeout, connect=5.0),\n"),
    ),
    # -- lab03.timeout-shrinks-to-budget
    _m(
        "timeout-keeps-a-safety-margin",
        {"lab03.timeout-shrinks-to-budget"},
        "'leave a tenth of what is left to handle the answer': near the end a request is "
        "given 90% of the time left instead of all of it",
        ("        return min(step_timeout, self.remaining())",
         "        return min(step_timeout, 0.9 * self.remaining())"),
    ),
    # -- lab03.child-deadline-min
    _m(
        "child-shrinks-the-parent-in-place",
        {"lab03.child-deadline-min"},
        "implements child like Go's 'the earlier wins' by moving this deadline's own `at` "
        "and returning self: the child is right, but a short child shortens its parent",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        self.at = min(self.at, self.clock() + seconds)\n        return self"),
    ),
    _m(
        "child-built-from-the-time-left",
        {"lab03.child-deadline-min"},
        "computes the child's budget as a duration, min(time left, seconds), and hands it to "
        "the constructor, which takes a point in time: right while the clock reads 0, wrong "
        "for any child made later in the run",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        return Deadline(min(self.remaining(), seconds), clock=self.clock)"),
    ),
    _m(
        "child-forgets-the-clock",
        {"lab03.child-deadline-min"},
        "computes the child's moment on the parent's clock but does not pass the clock on: "
        "the child falls back to time.monotonic, so its remaining() and expired() read "
        "another clock than the one it was set on",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        return Deadline(min(self.at, self.clock() + seconds))"),
    ),
    # -- lab03.retry-respects-deadline
    _m(
        "time-left-read-before-the-request",
        {"lab03.retry-respects-deadline"},
        "reads the time left once at the top of each attempt and uses it for the wait check "
        "too: when the failed request itself took time (a slow 5xx, a timeout), a wait that "
        "crosses the deadline still looks as if it fits and is slept",
        ("        timeout = deadline.timeout(step_timeout)\n",
         "        left = deadline.remaining()\n        timeout = deadline.timeout(step_timeout)\n"),
        ("            if wait >= deadline.remaining():", "            if wait >= left:"),
    ),
    _m(
        "jittered-backoff-drawn-twice",
        {"lab03.retry-respects-deadline"},
        "adapts lab 01's retry_call, which sleeps backoff_delay(...) inline, by asking "
        "backoff_delay once for the deadline check and again for the sleep: without jitter "
        "the same number, with jitter two draws, so the wait slept is not the wait checked "
        "(it may cross the deadline) and the seeded waits come out different",
        (_WAIT_BLOCK, """\
            requested = server_delay(error)
            if requested is None:
                if backoff_delay(attempt - 1, policy, rng) >= deadline.remaining():
                    raise DeadlineExceeded(
                        f"the wait before attempt {attempt + 1} would end after the "
                        f"deadline ({deadline.remaining():g} s left)"
                    ) from error
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                wait = min(requested, policy.max_delay)
                if wait >= deadline.remaining():
                    raise DeadlineExceeded(
                        f"a {wait:g} s wait before attempt {attempt + 1} would end after the "
                        f"deadline ({deadline.remaining():g} s left)"
                    ) from error
                sleep(wait)
"""),
    ),
    _m(
        "wait-clamped-to-the-deadline",
        {"lab03.retry-respects-deadline"},
        "'never sleep past the deadline' done as a clamp: a wait that does not fit is cut to "
        "the time left and slept, and the run fails only at the deadline, when the next "
        "attempt finds no time left, instead of at once",
        ("""\
            if wait >= deadline.remaining():
                raise DeadlineExceeded(
                    f"a {wait:g} s wait before attempt {attempt + 1} would end after the "
                    f"deadline ({deadline.remaining():g} s left)"
                ) from error
            sleep(wait)
""", """\
            sleep(min(wait, deadline.remaining()))
"""),
    ),
    _m(
        "deadline-error-not-chained",
        {"lab03.retry-respects-deadline"},
        "raises DeadlineExceeded inside the except block without `from error`, thinking "
        "Python chains it anyway: the failure that led to it is only the implicit context, "
        "not the cause the contract asks for",
        ("""\
                    f"deadline ({deadline.remaining():g} s left)"
                ) from error
""", """\
                    f"deadline ({deadline.remaining():g} s left)"
                )
"""),
    ),
    # -- lab03.llm-timeout-handled
    _m(
        "timeout-retried-without-a-wait",
        {"lab03.llm-timeout-handled"},
        "'a timed-out request has already waited its whole timeout, backing off on top is "
        "wasted time': after an APITimeoutError the next attempt goes out at once instead of "
        "after the backoff, unlike every other transient failure",
        ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n"),
        ("""\
                raise RetryError(attempt, error) from error
            requested = server_delay(error)
""", """\
                raise RetryError(attempt, error) from error
            if isinstance(error, openai.APITimeoutError):
                continue
            requested = server_delay(error)
"""),
    ),
    # -- lab03.budget-enforced
    _m(
        "total-tokens-taken-as-running-total",
        {"lab03.budget-enforced"},
        "'each prompt re-sends the whole conversation, so the latest usage.total_tokens "
        "already is the run's total': assigns instead of adding, and llm_tokens is only the "
        "last turn's, so a token budget several turns wide is never reached",
        ("run.llm_tokens += completion.usage.total_tokens",
         "run.llm_tokens = completion.usage.total_tokens"),
    ),
    _m(
        "only-the-deadline-recorded-as-exhausted",
        {"lab03.budget-enforced"},
        "thinks of the deadline as 'the' budget and catches DeadlineExceeded for the "
        "exhausted field: a run stopped by max_steps or max_llm_tokens ends failed through "
        "the generic branch with exhausted left None",
        ("    except BudgetExceeded as exhausted:\n", "    except DeadlineExceeded as exhausted:\n"),
    ),
    _m(
        "turn-counted-only-when-it-goes-on",
        {"lab03.budget-enforced"},
        "counts a turn's step and tokens together with its tool results, after the "
        "'no tool calls' return: a run that completes never counts its final answer's step "
        "and usage",
        (_COUNT_TURN, ""),
        ("            run.messages.extend(run_tool_calls(reply, tools.execute))\n",
         "            run.messages.extend(run_tool_calls(reply, tools.execute))\n" + _COUNT_TURN),
    ),
    _m(
        "token-budget-checked-right-after-the-turn",
        {"lab03.budget-enforced"},
        "checks the token budget right where the tokens are spent instead of before the next "
        "turn: a final answer that reaches the budget fails the run instead of completing "
        "it, and the tools of a turn that reaches it are never run",
        (_TOKEN_PRECHECK, ""),
        ("            run.messages.append(assistant_message(reply))\n",
         "            run.messages.append(assistant_message(reply))\n" + _TOKEN_PRECHECK),
    ),
)
