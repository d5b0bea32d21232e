"""Round 4 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_BUDGET_BRANCH = """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
"""

_WAIT = """\
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop
    _m(
        "run-deadline-on-the-process-clock",
        {"lab03.run-deadline-stops-loop", "lab03.timeout-shrinks-to-budget",
         "lab03.retry-respects-deadline"},
        "builds the run's deadline with Deadline.after(budget.max_wall_time) and leaves the "
        "clock out, since Deadline.after and run_agent both default to time.monotonic anyway. "
        "With run_agent's default clock (production) nothing changes; with any clock the "
        "caller hands in (a frozen one, the notebook's or the grader's), the run's deadline "
        "is read on the process's own monotonic clock, which barely moves while the given "
        "clock runs through the run: the deadline never passes, so requests go out after the "
        "run's time is up, a request near the end is still allowed the full step timeout, "
        "and a backoff wait in a run that crosses the deadline is slept",
        ("    deadline = Deadline.after(budget.max_wall_time, clock=clock)\n",
         "    deadline = Deadline.after(budget.max_wall_time)  # monotonic, as run_agent's clock\n"),
    ),
    # -- lab03.deadline-exceeded-recorded
    _m(
        "cause-recorded-instead-of-the-deadline",
        {"lab03.deadline-exceeded-recorded"},
        "'when a retry was cut short by the deadline, the failure behind it says more than "
        "\"deadline exceeded\"': a budget error that has a __cause__ is recorded as that "
        "cause. A deadline noticed at the top of a turn, or by deadline.timeout(), is "
        "recorded right; one that runs out inside call_llm after a 5xx or a timed-out "
        "request (a wait that does not fit) ends the run with 'InternalServerError: ...' or "
        "'APITimeoutError: ...' as its error, exhausted max_wall_time, instead of "
        "'DeadlineExceeded: ...'",
        (_BUDGET_BRANCH, """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        # a deadline that cut a retry short: show the failure behind it, it says more
        cause = exhausted.__cause__
        _fail(run, cause if isinstance(cause, Exception) else exhausted)
"""),
    ),
    _m(
        "stop-note-appended-on-expiry",
        {"lab03.deadline-exceeded-recorded"},
        "'the conversation should say why it stopped, for whoever reads it or resumes it' "
        "(as LangChain's 'Agent stopped due to iteration limit or time limit.'): when the "
        "deadline runs out, an assistant message 'Stopped: ...' is appended to run.messages. "
        "The run is failed with DeadlineExceeded as it should be, but its messages now hold "
        "one assistant turn that the model never sent: more than the progress made, and one "
        "assistant message more than its steps",
        (_BUDGET_BRANCH, _BUDGET_BRANCH + """\
        if isinstance(exhausted, DeadlineExceeded):  # say in the conversation why it stopped
            run.messages.append({"role": "assistant", "content": f"Stopped: {exhausted}"})
"""),
    ),
    # -- lab03.step-timeout-sent
    _m(
        "step-timeout-made-the-call-deadline",
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget",
         "lab03.retry-respects-deadline"},
        "uses the nested deadline where the docstring seems to ask for it ('a part of the "
        "work gets its own deadline'): call_llm starts with deadline = "
        "deadline.child(step_timeout), so the step timeout becomes the budget of the whole "
        "call, retries and waits included (the mistake instructor's retry made with "
        "stop_after_delay(timeout)). The first attempt is right; after a failure that took "
        "time or a wait, a retry far from the run's deadline is sent with less than the step "
        "timeout, near it with less than the time left, and a wait that would end well "
        "before the run's deadline but after step_timeout from the start of the call is not "
        "slept: DeadlineExceeded with most of the run's time left",
        ("    single = client.with_options(max_retries=0)\n",
         "    deadline = deadline.child(step_timeout)  # this step's own deadline, within the run's\n"
         "    single = client.with_options(max_retries=0)\n"),
    ),
    _m(
        "timeout-grows-with-each-attempt",
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "'a request that failed may just need more patience': like google-api-core's "
        "ExponentialTimeout, each attempt's timeout grows with the backoff factor, "
        "step_timeout * factor ** (attempt - 1), still cut to the time left. With factor=1 "
        "nothing changes and every first attempt is right; with the default factor 2 a retry "
        "far from the deadline is sent with twice (then four times) the step timeout, and "
        "one sent with between one and two step timeouts left gets all the time left instead "
        "of the step timeout",
        ("        timeout = deadline.timeout(step_timeout)\n",
         "        # each retry is allowed more patience, growing like the backoff\n"
         "        timeout = deadline.timeout(step_timeout * policy.factor ** (attempt - 1))\n"),
    ),
    # -- lab03.child-deadline-min
    _m(
        "child-made-through-timeout",
        {"lab03.child-deadline-min"},
        "'timeout(seconds) already is \"seconds, or the time left if less\"': child is "
        "Deadline.after(self.timeout(seconds)). While the parent has time left this is "
        "exactly the earlier of the two deadlines; once the parent has passed, timeout() "
        "raises DeadlineExceeded, so asking a passed deadline for a child raises instead of "
        "returning a deadline that has passed too (Go's WithDeadline on a done context "
        "returns a done context)",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        return Deadline.after(self.timeout(seconds), clock=self.clock)"),
    ),
    # -- lab03.retry-respects-deadline
    _m(
        "server-delay-used-as-a-floor",
        {"lab03.retry-respects-deadline"},
        "'never retry sooner than the server asks, nor sooner than our own backoff' (as "
        "stripe-python does, max(retry_after, sleep_seconds)): with a retry-after the wait is "
        "the larger of the capped server delay and the backoff. A server asking for more "
        "than the backoff is honoured as before; one asking for less (retry-after-ms 200 "
        "before a 4 s backoff) is waited the backoff instead, and near the deadline a "
        "server delay that fits is turned into a backoff that does not, ending the call with "
        "DeadlineExceeded though the retry the server allowed fitted",
        (_WAIT, """\
            wait = backoff_delay(attempt - 1, policy, rng)
            if requested is not None:  # never sooner than the server asks, nor than our backoff
                wait = max(min(requested, policy.max_delay), wait)
"""),
    ),
    _m(
        "retry-after-read-only-on-429",
        {"lab03.retry-respects-deadline"},
        "'Retry-After is the rate limiter's answer': reads the server's delay only from a "
        "429 and backs off on every other failure. A 429 with retry-after is waited as it "
        "asks; a 503 with retry-after (which HTTP defines too) or retry-after-ms is waited "
        "the backoff instead, so a wait the server asked for that would not end before the "
        "deadline is replaced by a short backoff and slept, and a retry goes out sooner "
        "than the server allowed",
        ("            requested = server_delay(error)\n",
         "            # Retry-After is the rate limiter's answer: only a 429 carries one to read\n"
         "            requested = server_delay(error) if getattr(error, \"status_code\", None) "
         "== 429 else None\n"),
    ),
    # -- lab03.llm-timeout-handled
    _m(
        "last-attempt-checked-before-permanence",
        {"lab03.llm-timeout-handled"},
        "puts 'are we out of attempts?' first in the except block and 'is it worth "
        "retrying?' second: a permanent error on the last attempt is wrapped in RetryError "
        "instead of raised as it is. With max_attempts=1 every 400 becomes a RetryError; "
        "with more attempts, a 503 then a 400 on the last one does; a 400 on an earlier "
        "attempt is still raised at once",
        ("""\
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
""", """\
            if attempt == policy.max_attempts:  # out of attempts, whatever it was
                raise RetryError(attempt, error) from error
            if not is_transient(error):
                raise
"""),
    ),
    _m(
        "generic-failure-left-running",
        {"lab03.llm-timeout-handled"},
        "ends a run whose budget ran out with _fail, but writes the generic branch (a "
        "RetryError, a permanent error) by hand as 'just say what went wrong': run.error is "
        "set and the state is not, so a run whose retries gave up, or whose request got a "
        "422, is returned still 'running'. Every budget failure ends failed as it should",
        ("    except Exception as error:\n        _fail(run, error)\n",
         "    except Exception as error:  # not a budget: just say what went wrong\n"
         "        run.error = f\"{type(error).__name__}: {error}\"\n"),
    ),
    # -- lab03.budget-enforced
    _m(
        "token-budget-predicts-the-next-turn",
        {"lab03.budget-enforced"},
        "'the next turn costs at least what the last one did, since the prompt only grows': "
        "checks the tokens spent plus the last turn's usage against max_llm_tokens, to stop "
        "before a turn that would use the budget up. The first turn (and a run handed in "
        "spent) is checked as before; later, a run whose budget still has room is stopped "
        "with max_llm_tokens one turn early (500 tokens a turn, max_llm_tokens=1200: 2 "
        "requests, not 3), and a model that would finish exactly on its budget is cut off",
        ("    budget = run.budget\n", "    budget = run.budget\n    last_turn = 0\n"),
        ("            if run.llm_tokens >= budget.max_llm_tokens:\n",
         "            # the next turn costs at least the last one: stop before it uses the budget up\n"
         "            if run.llm_tokens + last_turn >= budget.max_llm_tokens:\n"),
        ("                run.llm_tokens += completion.usage.total_tokens\n",
         "                run.llm_tokens += completion.usage.total_tokens\n"
         "                last_turn = completion.usage.total_tokens\n"),
    ),
    _m(
        "zero-budget-means-unlimited",
        {"lab03.budget-enforced"},
        "follows the common convention that a limit of 0 means 'no limit' (as many CLIs' "
        "--max-steps 0): each of max_steps and max_llm_tokens is checked only when it is "
        "non-zero. Every positive budget is enforced as before; a run given max_steps=0 or "
        "max_llm_tokens=0 sends requests until another budget stops it, where the contract "
        "says the budget has been reached before the first turn",
        ("            if run.steps >= budget.max_steps:\n",
         "            if budget.max_steps and run.steps >= budget.max_steps:  # 0: no limit\n"),
        ("            if run.llm_tokens >= budget.max_llm_tokens:\n",
         "            if budget.max_llm_tokens and run.llm_tokens >= budget.max_llm_tokens:\n"),
    ),
)
