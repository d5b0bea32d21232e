"""Round 6 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")

_RUN_DEADLINE = "    deadline = Deadline.after(budget.max_wall_time, clock=clock)\n"

_LOOP_CHECK = """\
        while True:
            deadline.check()
"""

_TOOL_RESULTS = "            run.messages.extend(run_tool_calls(reply, tools.execute))\n"

_CALL_EXCEPT = """\
        except Exception as error:
            if not is_transient(error):
"""

_WAIT_CHECK = "            if wait >= deadline.remaining():\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "wall-time-zero-means-no-limit",
        # with max_wall_time=0 every request the mutant sends goes out once no time is left,
        # which is run-deadline-stops-loop's alone (README); no deadline is ever detected, so
        # there is no deadline error to record, and no request is legitimately sent before
        # the deadline whose timeout or waits could be judged. Any positive budget is right
        {"lab03.run-deadline-stops-loop"},
        "follows the convention of Go's http.Client{Timeout: 0}, curl's --max-time 0 and "
        "many CLIs, where a time limit of 0 means 'no limit': the run's deadline is "
        "max_wall_time or math.inf. Every positive max_wall_time is kept exactly as before "
        "(and a negative one has passed already), but a run given max_wall_time=0, which "
        "has no time at all and must end failed with DeadlineExceeded before sending "
        "anything, sends its requests with the full step timeout and can complete",
        ("import random\n", "import math\nimport random\n"),
        (_RUN_DEADLINE,
         "    # a time limit of 0 means no limit, as Go's http.Client{Timeout: 0}\n"
         "    deadline = Deadline.after(budget.max_wall_time or math.inf, clock=clock)\n"),
    ),
    _m(
        "time-left-made-non-negative-with-abs",
        # as round 1's expired-only-once-past-the-deadline: once the clock is past the
        # deadline, the deadline is no longer seen as passed, so requests go out after it
        # (run-deadline-stops-loop's alone); before and at the deadline everything is right
        {"lab03.run-deadline-stops-loop"},
        "reads 'never negative' in remaining()'s docstring and writes abs(at - clock()). "
        "Before the deadline and at its very instant the figure is right (and so are "
        "timeouts, waits and expired()); but once the clock is strictly past the deadline "
        "(a tool that runs past it, a deadline handed in already over) the time left grows "
        "again: expired() is False, check() and timeout() do not raise, and the loop sends "
        "a request with a timeout as long as the overshoot",
        ("        return max(0.0, self.at - self.clock())",
         "        return abs(self.at - self.clock())  # never negative"),
    ),
    # -- lab03.deadline-exceeded-recorded ---
    _m(
        "deadline-checked-after-the-tools",
        # the order of the checks before a turn, when the deadline and max_steps (or
        # max_llm_tokens) hold together, is deadline-exceeded-recorded's (README), as for
        # round 2's step-limit-as-the-loop-condition; no request is ever sent after the
        # deadline (call_llm's deadline.timeout() guards the first turn)
        {"lab03.deadline-exceeded-recorded"},
        "takes the notebook's point that the time goes into the tools and moves the "
        "deadline check from the top of the loop to right after the tool results, 'where "
        "the time was spent', trusting call_llm's deadline.timeout() to guard the first "
        "turn. After every turn the order is as before (the deadline is checked before the "
        "next turn's step and token checks), and a run that starts with no time left still "
        "fails with DeadlineExceeded without a request; but a run handed in with no time "
        "left (max_wall_time=0) and its steps or tokens already used up records max_steps "
        "or max_llm_tokens instead of the deadline, which comes first",
        (_LOOP_CHECK, "        while True:\n"),
        (_TOOL_RESULTS,
         _TOOL_RESULTS + "            deadline.check()  # the tools are where the time goes\n"),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "timeout-capped-at-the-client-default",
        # with a step timeout above 600 s: far from the deadline the request gets 600 s, not
        # the step timeout (step-timeout-sent); within two step timeouts of the deadline it
        # gets 600 s where the step timeout or the time left was due (timeout-shrinks-to-
        # budget, README). Never more than either, so no other rule is touched
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "'the API drops a request after ten minutes anyway, the client's own default says "
        "so': caps every request's timeout at openai.DEFAULT_TIMEOUT.read (600 s). Every "
        "step timeout up to 600 s, the notebook's 90 and 120 s included, is sent exactly "
        "as before; a run given step_timeout=900 for a slow reasoning model sends 600 s "
        "with an hour left instead of 900 s, and 600 s with 800 s left instead of 800 s",
        _IMPORT_OPENAI,
        ("        timeout = deadline.timeout(step_timeout)\n",
         "        # never longer than the client's own ten minutes: the API gives up then anyway\n"
         "        timeout = min(deadline.timeout(step_timeout), openai.DEFAULT_TIMEOUT.read)\n"),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-negative-seconds-clamped",
        {"lab03.child-deadline-min"},
        "'a negative duration is a caller's bug, treat it as zero' (as many timeout "
        "parameters do): child(seconds) uses max(0, seconds). Every child of zero or more "
        "seconds is exactly right; a child asked for a negative time, whose own deadline "
        "is that many seconds in the past (Go's WithTimeout(ctx, -5*time.Second) is done 5 s "
        "ago), gets now instead (or its parent's deadline if that has passed less long ago): "
        "its deadline is later than its own, so not the earlier of the two",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        seconds = max(0.0, seconds)  # a negative duration is a caller's bug\n"
         "        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)"),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "server-delay-that-does-not-fit-replaced-by-the-backoff",
        {"lab03.retry-respects-deadline"},
        "'the server's retry-after is advice; if it does not fit in the time we have, try "
        "sooner on our own backoff rather than give up': when the capped server delay "
        "would not end before the deadline, the wait becomes backoff_delay(...) and only "
        "that is compared with the time left. A server delay that fits is waited as asked, "
        "and a run without retry-after is unchanged; but a 429 asking for 20 s with 10 s "
        "left is not met with DeadlineExceeded at once: the call sleeps the 1 s backoff "
        "and sends a retry the server said it would refuse",
        (_WAIT_CHECK,
         "            if requested is not None and wait >= deadline.remaining():\n"
         "                # the server's delay does not fit: try sooner on our own backoff\n"
         "                wait = backoff_delay(attempt - 1, policy, rng)\n" + _WAIT_CHECK),
    ),
    _m(
        "private-rng-when-none-is-given",
        # call_llm's waits are retry-respects-deadline's, as for rng-not-passed-on
        {"lab03.retry-respects-deadline"},
        "'library code must not draw from the global random and disturb the caller's "
        "seeded sequence': when call_llm is given no rng it makes a private "
        "random.Random() for the jitter instead of passing None on to backoff_delay. "
        "Without jitter nothing changes, and a run given its own rng is right; with "
        "jitter and rng=None the waits are not backoff_delay(attempt_index, policy, None)'s "
        "draws from the random module (so a seeded run waits differently, and differently "
        "every time), where the contract names that call",
        ("    single = client.with_options(max_retries=0)\n",
         "    if rng is None:  # never draw from the global random in library code\n"
         "        rng = random.Random()\n"
         "    single = client.with_options(max_retries=0)\n"),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "connection-errors-not-caught",
        # a transient failure raised before the last attempt is how call_llm's retries end
        # (README); the deadline and wait rules are judged against the mutant's own
        # handling of that failure (raised at once, no wait), so they are not concerned
        {"lab03.llm-timeout-handled"},
        "catches the two failures the lab talks about, the API's error statuses and the "
        "timed-out request: except (openai.APIStatusError, openai.APITimeoutError). Every "
        "429, 5xx and timeout is retried as before; a connection that fails outright "
        "(refused, reset: openai.APIConnectionError, of which APITimeoutError is only the "
        "subclass) escapes call_llm at once, and the run ends failed with "
        "'APIConnectionError: ...' though it had attempts and time left",
        _IMPORT_OPENAI,
        (_CALL_EXCEPT, """\
        except (openai.APIStatusError, openai.APITimeoutError) as error:
            if not is_transient(error):
"""),
    ),
    _m(
        "deadline-checked-first-when-a-request-fails",
        # a spurious deadline error where the contract wants a RetryError or the permanent
        # error as it is: how call_llm's retries end, and the run's record of those, is
        # llm-timeout-handled's (as for round 5's deadline-checked-before-the-last-attempt);
        # a 503 and a timeout are handled alike, and no wait is slept that was not before
        {"lab03.llm-timeout-handled"},
        "writes Go's idiom after a failed call, `if ctx.Err() != nil { return ctx.Err() }`: "
        "the first thing the except block does is ask whether the deadline has passed, and "
        "if so it raises DeadlineExceeded from the failure. A failure before the deadline "
        "is handled as before, and a transient one exactly at the deadline on an early "
        "attempt ends in DeadlineExceeded as it should; but a 400 that comes back exactly "
        "at the deadline is no longer raised as it is, and a last attempt that fails "
        "there ends in DeadlineExceeded (exhausted max_wall_time) instead of RetryError",
        (_CALL_EXCEPT, """\
        except Exception as error:
            if deadline.expired():  # as Go's `if ctx.Err() != nil { return ctx.Err() }`
                raise DeadlineExceeded(
                    f"the deadline passed during attempt {attempt}"
                ) from error
            if not is_transient(error):
"""),
    ),
    _m(
        "retry-error-carries-the-first-failure",
        {"lab03.llm-timeout-handled"},
        "'the first failure is the root cause, the later ones are the same outage seen "
        "again': keeps the first failure of the call and, when the attempts run out, raises "
        "RetryError(attempt, first) from first. The right requests are sent, the waits are "
        "right and RetryError comes on the last attempt; while every attempt fails the same "
        "way (the notebook's hung model) the report reads the same, but after a 503, a 503 "
        "and then a timeout the RetryError's last_error and __cause__ are the first 503, "
        "not the final failure lab 01's RetryError is to carry",
        ("    single = client.with_options(max_retries=0)\n",
         "    single = client.with_options(max_retries=0)\n"
         "    first: Exception | None = None  # the failure that started the trouble\n"),
        ("""\
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
""", """\
            if not is_transient(error):
                raise
            first = first or error
            if attempt == policy.max_attempts:
                raise RetryError(attempt, first) from first
"""),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "step-counted-when-the-turn-is-done",
        # how turns are counted is budget-enforced's (README); the counts before every turn
        # are the same as the solution's, so max_steps stops the run at the right turn and
        # only a run that fails inside a turn's tools shows the difference
        {"lab03.budget-enforced"},
        "'a step is a whole turn, the answer and the tools it asked for': adds the step "
        "once the turn's tools have run (and before returning a final answer), while the "
        "tokens are added as soon as the answer is in. Every run that completes or stops on "
        "a budget counts exactly as before; but when a tool raises (a failed deploy, an "
        "unknown tool), the run ends failed with one step fewer than the LLM turns it made, "
        "though that turn's answer was in, its assistant message kept and its tokens counted",
        ("            run.steps += 1\n", ""),
        ("""\
            if not reply.tool_calls:
                run.state, run.result = TaskState.COMPLETED, reply.content or ""
""", """\
            if not reply.tool_calls:
                run.steps += 1  # the turn is done
                run.state, run.result = TaskState.COMPLETED, reply.content or ""
"""),
        (_TOOL_RESULTS, _TOOL_RESULTS + "            run.steps += 1  # the turn is done\n"),
    ),
)
