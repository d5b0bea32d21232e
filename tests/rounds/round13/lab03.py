"""Round 13 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

# Families deliberately avoided, because the kit's mutants or rounds 1-12 have them:
# - the deadline check: missing, after the request or the tools, left to call_llm, strict
#   `>` at the instant, abs()/negative time left, a leeway, restarted every turn, the
#   process's clock, 0 or a negative max_wall_time meaning "no limit", a wrap-up request,
#   a truthy Deadline guarding call_llm, call_llm's inline min() that never raises;
# - the deadline's record: a generic or plain BudgetExceeded error, a TimeoutError
#   subclass, the cause recorded instead, a completed end, a stop note, progress dropped,
#   rolled back or written back only on completion, the except clauses' order, a crash
#   while building its message, the answer at the deadline discarded;
# - the request: no timeout, ms, httpx.Timeout with one part kept, client-level or
#   once-per-call timeouts, a cap at the client default, 0/inf conventions, a window, a time
#   warning, null fields stripped, max_tokens added, tools missing/ignored/first turn only,
#   the model not passed on, the last turn given all the time left;
# - the shrink: constant, whole seconds, ceil, a floor, a margin or a grace, a share of the
#   time left, the time left read before the wait or tracked by subtraction, refusing a
#   short turn;
# - the child: own deadline only, the later one, in place, durations taken as instants,
#   clamped time left, through timeout(), time.monotonic, negative seconds clamped,
#   child(0) or a passed parent giving the parent, compared by time left, counted from
#   creation, memoised, own `at` asking the parent, now derived from the time left, bounded
#   by the root only;
# - the waits: not checked, `>`, uncapped/checked before the cap/slept uncapped, a floor, a
#   clamp, the backoff replacing a delay, compared with the next timeout or with room for an
#   attempt, zero waits, jitter drawn twice, judged unjittered or drawn within the time left,
#   rng/sleep/policy not passed on, a private rng for rng=None, streaks across calls,
#   backoff index from 1 or counting only backoffs, an immediate retry, the attempt's time
#   taken off, ticks, chaining, server delays truncated, read only on 429 or kept stale;
# - timeouts and retries: not retried, no wait, not counted, full step timeout only,
#   re-raised, reported as deadline, deadline checked first or before the last attempt,
#   RetryError's count/chain/first/root/last error, permanence after retries or before the
#   last attempt, 429/5xx only, HTTP-only permanence, narrowed catch-alls, left running,
#   traceback kept, a second round of retries, single-attempt shortcut, x-should-retry
#   obeyed, tool errors fed back to the model;
# - budgets: off-by-one, `==`, 0 = unlimited, a fraction, misnamed or swapped, tokens before
#   steps, per tool call, counted from this call or the conversation, checked between or
#   right after turns, predicted, estimated, prompt-only, assigned, cached tokens discounted,
#   reasoning tokens added, last step's tools not run, a final answer requested, completed
#   on max_steps, a BudgetExceeded built without its detail.

_m = mutants_of("lab03")

_SLEEP_TYPE = "Sleep = Callable[[float], None]\n"
_CHECK = '''\
    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` once the deadline has passed."""
        if self.expired():
            raise DeadlineExceeded()
'''
_TIMEOUT_BODY = "        self.check()\n        return min(step_timeout, self.remaining())"
_CHILD = "        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)"
_SINGLE = "    single = client.with_options(max_retries=0)\n"
_TIMEOUT_LINE = "        timeout = deadline.timeout(step_timeout)\n"
_REQUEST_MODEL = "                model=model,\n"
_LAST_ATTEMPT = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_REQUESTED = "            requested = server_delay(error)\n"
_WAIT = """\
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
"""
_UNREACHABLE = '    raise AssertionError("unreachable: the loop returns or raises")\n'
_CALL_LLM_BODY = '''\
    single = client.with_options(max_retries=0)
    for attempt in range(1, policy.max_attempts + 1):
        timeout = deadline.timeout(step_timeout)
        try:
            return single.chat.completions.create(
                model=model,
                messages=list(messages),  # type: ignore[arg-type]
                tools=list(tools),  # type: ignore[arg-type]
                timeout=timeout,
            )
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
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
    raise AssertionError("unreachable: the loop returns or raises")
'''
_RUNNING = "    run.state = TaskState.RUNNING\n"
_LOOP_TOP = "        while True:\n            deadline.check()\n"
_CALL_MESSAGES = (
    "                client, run.messages, deadline=deadline, step_timeout=step_timeout,\n"
)
_STEP_COUNTED = "            run.steps += 1\n"
_COUNT_TURN = """\
            run.steps += 1
            if completion.usage is not None:
                run.llm_tokens += completion.usage.total_tokens
"""
_BUDGET_BRANCH = """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
"""
_FAIL_ERROR = '    run.error = f"{type(error).__name__}: {error}"\n'

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "timeout-checks-only-when-the-deadline-binds",
        # what timeout() does once no time is left (raise, so that nothing is sent) is
        # run-deadline-stops-loop's alone, as for round 9's check-raises-only-once-past; only a
        # step timeout of 0 (or less) reaches the early return with no time left. run_agent's
        # loop still checks the deadline before each turn, and a retry only follows a wait
        # that ended before the deadline, so runs are the solution's; nothing is recorded
        # wrongly (no deadline is detected), and every timeout sent is the solution's number
        {"lab03.run-deadline-stops-loop"},
        "restructures timeout() around its two cases, 'if the step timeout fits in the time "
        "left there is nothing to shrink, and then there is nothing to check either: only "
        "when the deadline is what limits the operation can it have passed': it returns "
        "step_timeout at once when step_timeout <= remaining(), and calls check() only on the "
        "other branch. Every positive step timeout behaves exactly as before (with no time "
        "left it does not fit, so check() raises); but the boundary case the fine print "
        "names, step_timeout=0, fits in a time left of 0 too: Deadline.timeout(0) on a "
        "passed deadline returns 0 instead of raising, and call_llm(step_timeout=0) called "
        "at or after its deadline sends a request (with a zero timeout, answered at once by "
        "a model that needs no time) instead of raising DeadlineExceeded without sending",
        (_TIMEOUT_BODY, """\
        left = self.remaining()
        if step_timeout <= left:  # it fits: nothing to shrink, so nothing to check
            return step_timeout
        self.check()  # the deadline is what limits this operation: has it passed?
        return left"""),
    ),
    # -- lab03.run-deadline-stops-loop + lab03.deadline-exceeded-recorded ---
    _m(
        "check-returns-the-error-like-ctx-err",
        # Deadline.check() past the deadline no longer raises the distinct DeadlineExceeded
        # (the deadline's own error: deadline-exceeded-recorded), and timeout(), which calls
        # check() for its effect, no longer raises either, so call_llm handed a passed
        # deadline sends a request (run-deadline-stops-loop). run_agent's own loop was updated
        # and raises what check() returns, and its retries are guarded by the wait check, so
        # every run (its requests, timeouts, waits and record) is the solution's
        {"lab03.run-deadline-stops-loop", "lab03.deadline-exceeded-recorded"},
        "ports Go's `if err := ctx.Err(); err != nil { return err }`: check() returns the "
        "DeadlineExceeded once no time is left (None before), and the loop does `late = "
        "deadline.check(); if late is not None: raise late`. Every run is exactly as before, "
        "since the loop raises what check() hands it; but timeout() still calls self.check() "
        "as a statement, the way it was written when check() raised, and drops what it "
        "returns: Deadline.check() half a second past a deadline raises nothing, "
        "Deadline.timeout() on a passed deadline returns 0, and call_llm called 7 s past "
        "its deadline sends a request with a zero timeout and returns the answer if one "
        "comes at once, instead of raising DeadlineExceeded",
        (_CHECK, '''\
    def check(self) -> "DeadlineExceeded | None":
        """As Go's ``ctx.Err()``: the error once the deadline has passed, else None."""
        return DeadlineExceeded() if self.expired() else None
'''),
        (_LOOP_TOP, """\
        while True:
            late = deadline.check()
            if late is not None:  # as Go's `if err := ctx.Err(); err != nil { return err }`
                raise late
"""),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "retries-fall-back-to-the-small-model",
        # what each request carries besides its timeout (the model it was given) is
        # step-timeout-sent's, as for the kit's model-not-passed-on; only retries differ, and
        # only when the model asked for is not the kit's default. The fake's answers are
        # scripted, so nothing else changes
        {"lab03.step-timeout-sent"},
        "adds the model fallback of LiteLLM's `fallbacks` and OpenRouter's model lists, "
        "'when the big model is overloaded or slow, a retry on the small one is more likely "
        "to answer before the deadline': the first attempt of a call asks the model it was "
        "given, every retry asks FALLBACK_MODEL, the kit's gpt-4o-mini. Runs and calls whose "
        "requests succeed at once, and every call made with the default model, are exactly "
        "as before; but run_agent(model='gpt-4.1-nano') whose first request gets a 503 (or "
        "times out) sends its retries to gpt-4o-mini, where the contract sends every "
        "request with the model it was given",
        (_SLEEP_TYPE,
         _SLEEP_TYPE + "\n#: The model a retry asks when the one asked first has failed.\n"
                       "FALLBACK_MODEL = DEFAULT_MODEL\n"),
        (_REQUEST_MODEL,
         "                model=model if attempt == 1 else FALLBACK_MODEL,  # a retry: the small one\n"),
    ),
    _m(
        "first-turn-given-a-cold-start-allowance",
        # only the run's first turn differs, and its timeout is min(2 x step timeout, time
        # left): never above the time left, and the time left whenever that is below the step
        # timeout (timeout-shrinks-to-budget holds), but above the step timeout whenever more
        # than one step timeout is left (step-timeout-sent). Waits, budgets and the deadline
        # are the solution's, and call_llm is untouched
        {"lab03.step-timeout-sent"},
        "knows that a hosted model can take a while to load for the first request after a "
        "pause (a cold start, as serverless inference endpoints warn) and gives the run's "
        "first turn twice the step timeout: run_agent passes step_timeout * "
        "COLD_START_FACTOR (2) to call_llm until the first answer is in. Every later turn, "
        "and every turn of a run whose wall time is below the step timeout, is sent exactly "
        "as before; but the first request of a 300 s run with a 30 s step timeout goes out "
        "with timeout=60, and its retries too, more than the step timeout that every "
        "request must keep to",
        (_SLEEP_TYPE,
         _SLEEP_TYPE + "\n#: How much longer the first turn of a run may take (the model may be loading).\n"
                       "COLD_START_FACTOR = 2.0\n"),
        (_RUNNING, _RUNNING + "    cold = True  # the first turn of the run: the model may be loading\n"),
        (_CALL_MESSAGES, """\
                client, run.messages, deadline=deadline,
                step_timeout=step_timeout * COLD_START_FACTOR if cold else step_timeout,
"""),
        (_STEP_COUNTED, "            cold = False\n" + _STEP_COUNTED),
    ),
    # -- lab03.timeout-shrinks-to-budget ---
    _m(
        "retries-sent-with-the-whole-step-timeout",
        # never above the step timeout, and every first attempt is right; only a retry sent
        # with less than the step timeout left gets more than the time left. No request goes
        # out after the deadline (a retry only follows a wait that ended before it). Unlike
        # round 2's and round 7's stale timeouts, the retry's timeout is not shrunk at all.
        # A timed-out request and a 503 are treated alike, so nothing is timeout-specific
        {"lab03.timeout-shrinks-to-budget"},
        "reads deadline.timeout() as the guard that raises when no time is left, and "
        "reasons that 'a retry only comes after a wait that was checked to end before the "
        "deadline, so it has time': the first attempt takes deadline.timeout(step_timeout), "
        "every retry the step timeout as it is. Far from the deadline every request is as "
        "before, and so is every first attempt near it; but with an 18 s deadline, a 40 s "
        "step timeout, a 500 and a 2.5 s wait, the retry goes out with timeout=40 instead "
        "of the 15.5 s left, and a model that hangs on it keeps the run 24.5 s past its "
        "deadline",
        (_TIMEOUT_LINE,
         "        # a retry comes only after a wait that ended before the deadline: it has the time\n"
         "        timeout = deadline.timeout(step_timeout) if attempt == 1 else step_timeout\n"),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-ends-a-margin-before-its-parent",
        # where a child's instant lies is child-deadline-min's; every child whose own seconds
        # come first is exactly right, the parent is unchanged and run_agent makes no child
        {"lab03.child-deadline-min"},
        "propagates deadlines the way envoy's grpc-timeout-header-offset and Finagle do, "
        "'a callee must give up a little before its caller, so that the caller still has "
        "time to act on the failure': a child bounded by its parent ends CHILD_MARGIN "
        "(0.1 s) before it, min(parent - 0.1, now + seconds). Every child whose own seconds "
        "come first (child(20) of a 60 s deadline) is exactly as before; but child(90) of a "
        "deadline 60 s away lies 59.9 s away instead of at the parent's instant, and a "
        "child of a deadline that passed lies 0.1 s before it, neither of them the earlier "
        "of the two instants",
        (_SLEEP_TYPE,
         _SLEEP_TYPE + "\n#: A part of the work ends this long before the whole, which must act on it.\n"
                       "CHILD_MARGIN = 0.1\n"),
        (_CHILD,
         "        # a part gives up a little before the whole, which must still act on it\n"
         "        return Deadline(\n"
         "            min(self.at - CHILD_MARGIN, self.clock() + seconds), clock=self.clock\n"
         "        )"),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "rng-copied-to-spare-the-callers-stream",
        # how long call_llm's waits are, and which draws of the rng they are, is
        # retry-respects-deadline's (as for the kit's rng-not-passed-on and round 6's
        # private-rng-when-none-is-given); without jitter, or within one call, every wait is
        # the solution's
        {"lab03.retry-respects-deadline"},
        "treats the rng like any other argument a function must not change under its "
        "caller, 'drawing from it would move the caller's seeded stream', and works on "
        "copy.copy(rng). Without jitter nothing changes, and within one call the waits are "
        "exactly the stream's draws; but the caller's rng never moves on, so every call "
        "starts again from the same state: in a run whose first and second turns each fail "
        "once before answering, both waits are the first draw, where the second should be "
        "the stream's next one, and two call_llm calls sharing Random(88) wait the same "
        "draws twice",
        ("import random\n", "import copy\nimport random\n"),
        (_SINGLE, _SINGLE + "    # never move the caller's seeded stream: draw from a copy of it\n"
                            "    rng = copy.copy(rng) if rng is not None else None\n"),
    ),
    _m(
        "retry-after-ms-divided-again",
        # the wait call_llm takes after a server's delay is retry-respects-deadline's (as for
        # round 12's server-delay-truncated-to-whole-seconds); retry-after in seconds, HTTP
        # dates and every backoff wait are the solution's
        {"lab03.retry-respects-deadline"},
        "sees the header's name and converts, 'retry-after-ms counts milliseconds': when "
        "the failed response carries retry-after-ms, the delay server_delay() returned "
        "(already in seconds) is divided by 1000. A retry-after in seconds or as an HTTP "
        "date, and every backoff wait, is waited exactly as before; but a 429 with "
        "retry-after-ms: 1500 is retried after 1.5 ms instead of 1.5 s, and a 503 with "
        "retry-after-ms: 12000 and 11 s left is retried after 12 ms instead of the call "
        "raising DeadlineExceeded at once",
        (_REQUESTED, _REQUESTED + """\
            headers = getattr(getattr(error, "response", None), "headers", None) or {}
            if requested is not None and "retry-after-ms" in headers:
                requested /= 1000  # that header counts milliseconds
"""),
    ),
    _m(
        "equal-jitter-instead-of-full",
        # the jittered waits are retry-respects-deadline's (as for round 3's
        # deadline-checked-against-the-unjittered-backoff); without jitter, and for every
        # server delay, the waits are the solution's
        {"lab03.retry-respects-deadline"},
        "reads the AWS article's comparison and prefers 'equal jitter', which 'keeps some "
        "of the backoff, so that a retry never comes almost at once': with jitter on, the "
        "wait is half the capped backoff plus rng.uniform(0, half), one draw per wait as "
        "before. Without jitter nothing changes, and server delays are waited as asked; but "
        "with jitter and a seeded rng every backoff wait lies in [b/2, b] instead of being "
        "backoff_delay(n, policy, rng)'s full-jitter draw from [0, b], so the seeded waits "
        "come out different, and near the deadline a draw that would have fitted becomes a "
        "wait that does not",
        ("import random\n", "import dataclasses\nimport random\n"),
        (_WAIT, """\
            if requested is None:
                full = backoff_delay(attempt - 1, dataclasses.replace(policy, jitter=False))
                # equal jitter (AWS): keep half of the backoff, draw the other half
                wait = full / 2 + (rng or random).uniform(0.0, full / 2) if policy.jitter else full
            else:
                wait = min(requested, policy.max_delay)
"""),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "retry-error-raised-after-the-loop",
        # how call_llm's retries end on the last attempt (RetryError, at once) is
        # llm-timeout-handled's, as for round 5's deadline-checked-before-the-last-attempt;
        # every wait between two attempts is the solution's, and the extra wait after the
        # last one is compared with the time left like the others, so no wait is slept
        # through the deadline
        {"lab03.llm-timeout-handled"},
        "writes the retry loop in its textbook shape, 'try, on a transient failure wait and "
        "go round; when the loop runs out, every attempt has failed': the last-attempt test "
        "goes, and RetryError(max_attempts, last) is raised after the loop. Every call that "
        "succeeds, or ends on a permanent error or on the deadline before its attempts run "
        "out, is exactly as before; but after the last attempt fails, the next wait is "
        "still computed, compared and slept: with max_attempts=3 and 0.5 s backoff the "
        "RetryError comes 2 s late, and with max_attempts=1 and a 503 asking for "
        "retry-after: 20 with 10 s left, the call raises DeadlineExceeded instead of "
        "RetryError(1, error)",
        (_SINGLE, _SINGLE + "    last: Exception | None = None  # the last failure, for the loop's end\n"),
        (_LAST_ATTEMPT, "            last = error\n"),
        (_UNREACHABLE,
         "    raise RetryError(policy.max_attempts, last) from last  # every attempt failed\n"),
    ),
    _m(
        "retries-made-by-recursion",
        # how call_llm's retries end (RetryError after max_attempts) is llm-timeout-handled's;
        # every request, timeout and wait up to the recursion limit is the solution's
        {"lab03.llm-timeout-handled"},
        "writes the retries as a recursive helper, 'attempt n fails, wait, return "
        "attempt(n + 1)', which reads like the rule itself. Every policy of a few attempts "
        "is handled exactly as before; but each attempt holds a stack frame until the call "
        "ends, so a policy of thousands of attempts (max_attempts=3000, base_delay=0, a "
        "long deadline, a model that keeps failing) ends with RecursionError after some "
        "hundreds of requests, and the run records 'RecursionError: maximum recursion "
        "depth exceeded', where lab 01's loop makes every attempt and raises "
        "RetryError(3000, ...)",
        (_CALL_LLM_BODY, '''\
    single = client.with_options(max_retries=0)

    def attempt_from(attempt: int) -> ChatCompletion:
        """Attempt number ``attempt``; after a transient failure and its wait, the next."""
        timeout = deadline.timeout(step_timeout)
        try:
            return single.chat.completions.create(
                model=model,
                messages=list(messages),  # type: ignore[arg-type]
                tools=list(tools),  # type: ignore[arg-type]
                timeout=timeout,
            )
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
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
        return attempt_from(attempt + 1)

    return attempt_from(1)
'''),
    ),
    _m(
        "run-error-cut-to-its-first-line",
        # the record of a failure that is not a budget (a permanent error as it is) is
        # llm-timeout-handled's, as for round 11's traceback-kept-as-the-error. Every budget
        # message and every RetryError (whose last error is shown by repr) is one line, so
        # the deadline's and the budgets' records are the solution's
        {"lab03.llm-timeout-handled"},
        "takes the notebook's 'the run's error says why, in one line (no traceback)' as a "
        "rule to enforce, and keeps the first line of '<ExceptionType>: <message>'. Every "
        "budget, every RetryError and every JSON error from the API is recorded exactly as "
        "before; but a 400 or 422 whose body is a proxy's HTML error page (the OpenAI client "
        "makes the page's text the message) is recorded as 'BadRequestError: <html>', and a "
        "tool failure whose message runs over several lines loses all but the first, where "
        "the contract records the whole message",
        (_FAIL_ERROR,
         "    # one line, no traceback: \"the run's error says why, in one line\"\n"
         '    run.error = f"{type(error).__name__}: {error}".splitlines()[0]\n'),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "step-counted-only-with-usage",
        # how turns are counted is budget-enforced's (as for round 6's
        # step-counted-when-the-turn-is-done); every response that reports its usage (the
        # kit's fake always does) is counted as before, so only a server that leaves usage
        # out, which a mocked OpenAI endpoint can do, shows it
        {"lab03.budget-enforced"},
        "counts a turn and what it cost together, in the block that guards against a "
        "response without usage: `if completion.usage is not None:` holds both "
        "run.steps += 1 and the tokens. Every response that reports a usage, zero tokens "
        "included, is counted exactly as before; but a server that leaves usage out (some "
        "OpenAI-compatible servers and proxies do) makes turns that count no step: "
        "max_steps=3 never stops a model that keeps asking for tools, and a run that "
        "completes in 3 turns records 0 steps",
        (_COUNT_TURN, """\
            if completion.usage is not None:  # the turn and what it cost, counted together
                run.steps += 1
                run.llm_tokens += completion.usage.total_tokens
"""),
    ),
    _m(
        "steps-or-tokens-run-out-left-pending",
        # the run stops at the right turn and names the budget, but does not end failed: the
        # record of max_steps and max_llm_tokens is budget-enforced's (as for round 3's
        # step-limit-ends-the-run-completed); the deadline is recorded as before
        {"lab03.budget-enforced"},
        "thinks ahead to lab 04, where a run is resumed: 'out of steps or tokens, the run "
        "is not broken, it only needs a bigger budget', so after recording exhausted and "
        "the error it puts the run back to pending, ready to be resumed, and keeps failed "
        "for the deadline, 'whose time cannot be given back'. A run that completes, and one "
        "that runs out of time, is exactly as before; but a run that reaches max_steps or "
        "max_llm_tokens stops at the right turn, says which budget ran out, and is left "
        "'pending' instead of failed",
        (_BUDGET_BRANCH, _BUDGET_BRANCH + """\
        if not isinstance(exhausted, DeadlineExceeded):
            # out of steps or tokens, not broken: pending, to be resumed with a bigger budget
            run.state = TaskState.PENDING
"""),
    ),
)
