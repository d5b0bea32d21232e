"""Round 5 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")

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

_LAST_ATTEMPT = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""

_WAIT_CHECK = """\
            if wait >= deadline.remaining():
                raise DeadlineExceeded(
                    f"a {wait:g} s wait before attempt {attempt + 1} would end after the "
                    f"deadline ({deadline.remaining():g} s left)"
                ) from error
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "deadline-restarted-every-turn",
        # as round 4's run-deadline-on-the-process-clock: the run's deadline is not the one
        # checked, so requests go out after it (stops-loop alone owns those), near it a request
        # is allowed more than the run's time left, and a wait crossing it is slept; no
        # deadline is detected, so there is no deadline error to record wrongly
        {"lab03.run-deadline-stops-loop", "lab03.timeout-shrinks-to-budget",
         "lab03.retry-respects-deadline"},
        "writes the Go habit `for { ctx, cancel := context.WithTimeout(parent, budget) ... }`: "
        "the deadline is made at the top of the loop body, right before it is checked, so "
        "every turn starts with the whole max_wall_time again. A single turn that runs past "
        "max_wall_time (a hung model) is still cut off, but a run of several turns never "
        "passes its deadline: a request goes out after the run's time is up, a request near "
        "the run's end still gets the full step timeout, and a backoff wait that crosses the "
        "run's deadline is slept because it fits in the turn's",
        ("    deadline = Deadline.after(budget.max_wall_time, clock=clock)\n", ""),
        ("""\
        while True:
            deadline.check()
""", """\
        while True:
            deadline = Deadline.after(budget.max_wall_time, clock=clock)  # this turn's context
            deadline.check()
"""),
    ),
    # -- lab03.deadline-exceeded-recorded ---
    _m(
        "answer-at-the-deadline-discarded",
        # the run's record at the deadline (its steps, messages, tokens, and completed vs
        # failed) is deadline-exceeded-recorded's, as for round 1's step-counted-before-the-request
        {"lab03.deadline-exceeded-recorded"},
        "'an answer that comes once the time is up is too late' (Go's select that takes "
        "ctx.Done() over the reply): checks the deadline again right after call_llm returns, "
        "before counting the turn. A reply that arrives before the deadline is kept as it "
        "should be; one whose latency ends exactly on the deadline (a request given exactly "
        "the time left) is thrown away: the run fails with DeadlineExceeded without that "
        "turn's step, tokens and assistant message, and a final answer that came exactly at "
        "the deadline fails the run instead of completing it",
        ("            run.steps += 1\n",
         "            deadline.check()  # an answer that comes once the time is up is too late\n"
         "            run.steps += 1\n"),
    ),
    _m(
        "deadline-ends-the-run-completed",
        {"lab03.deadline-exceeded-recorded"},
        "copies LangChain's AgentExecutor with max_execution_time and "
        "early_stopping_method='force', which returns 'Agent stopped due to iteration limit "
        "or time limit.' as the output: out of time, the run is recorded as max_wall_time "
        "but ends completed with that text as its result and no error, instead of failed "
        "with DeadlineExceeded. max_steps and max_llm_tokens still end it failed",
        (_BUDGET_BRANCH, """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        if isinstance(exhausted, DeadlineExceeded):  # out of time: stop and say so, as LangChain
            run.state = TaskState.COMPLETED
            run.result = "Agent stopped due to iteration limit or time limit."
            return run
        _fail(run, exhausted)
"""),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "timeout-sent-in-milliseconds",
        # every request's timeout is 1000 times too large: above the step timeout and, near
        # the end, above the time left
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "comes from openai-node, whose `timeout` option is in milliseconds (as the seed's "
        "max_wall_time_ms and retry-after-ms are): converts the computed timeout to ms "
        "before passing it to create(). The Python client takes seconds, so a 30 s step "
        "timeout is sent as 30000 s, and a request with 5 s left is allowed 5000 s",
        ("                timeout=timeout,\n",
         "                timeout=timeout * 1000,  # ms, as openai-node's timeout option\n"),
    ),
    # -- lab03.timeout-shrinks-to-budget ---
    _m(
        "time-left-rounded-up-to-whole-seconds",
        {"lab03.timeout-shrinks-to-budget"},
        "'never cut a request short of its time: round the time left up to whole seconds' "
        "(gRPC's grpc-timeout header carries whole units): timeout() is "
        "min(step_timeout, ceil(time left)). Far from the deadline the step timeout is sent "
        "as it should be, and with a whole number of seconds left nothing changes; with "
        "7.5 s left a request is allowed 8 s, with 0.3 s left 1 s, more than is left in the "
        "run",
        ("import random\n", "import math\nimport random\n"),
        ("        return min(step_timeout, self.remaining())",
         "        return min(step_timeout, float(math.ceil(self.remaining())))  # whole seconds"),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-now-from-time-monotonic",
        {"lab03.child-deadline-min"},
        "keeps the parent's clock on the child but writes 'seconds from now' as "
        "time.monotonic() + seconds, the clock the docstring names as the default: right in "
        "production, where the clock is time.monotonic, but with any other clock (a frozen "
        "one, the notebook's) the child's own deadline is set on another time line, so the "
        "earlier of the two is chosen wrongly: the child is already over, or it is the "
        "parent's deadline when its own seconds should have come first",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        return Deadline(min(self.at, time.monotonic() + seconds), clock=self.clock)"),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "backoff-index-from-one",
        # call_llm's waits are retry-respects-deadline's (as for rng- and sleep-not-passed-on)
        {"lab03.retry-respects-deadline"},
        "passes the loop's 1-based attempt number to backoff_delay, whose retry index is 0 "
        "for the first retry: every wait is one step of the backoff too long (2, 4, 8 s "
        "instead of 1, 2, 4 s by default; 16 s where the notebook's 8 s was due), and near "
        "the deadline a wait that fitted is doubled into one that does not, ending the call "
        "with DeadlineExceeded early",
        ("                backoff_delay(attempt - 1, policy, rng)\n",
         "                backoff_delay(attempt, policy, rng)\n"),
    ),
    _m(
        "zero-retry-after-means-none",
        # the wait call_llm takes after a server's delay is retry-respects-deadline's (as for
        # round 4's server-delay-used-as-a-floor)
        {"lab03.retry-respects-deadline"},
        "tests the server's delay for truth (`if requested`) instead of against None: a "
        "server that asks for no wait at all (retry-after: 0, retry-after-ms: 0) is waited "
        "the backoff instead, and near the deadline a retry the server allowed at once "
        "becomes a backoff that does not fit, ending the call with DeadlineExceeded. Every "
        "non-zero delay is honoured as before",
        (_WAIT, """\
            wait = (
                min(requested, policy.max_delay)
                if requested
                else backoff_delay(attempt - 1, policy, rng)
            )
"""),
    ),
    _m(
        "policy-not-passed-on",
        # the policy decides both how long call_llm waits (retry-respects-deadline) and after
        # how many attempts it gives up with RetryError (llm-timeout-handled)
        {"lab03.retry-respects-deadline", "lab03.llm-timeout-handled"},
        "passes the deadline, the step timeout, the sleep, the rng and the model on to "
        "call_llm and forgets `policy`: call_llm's default RetryPolicy() is used whatever "
        "the run was given, so a run with max_attempts=2 makes 4 attempts before its "
        "RetryError, and a run with base_delay=8 waits 1, 2, 4 s between them. A run given "
        "the default policy is right",
        ("                policy=policy, sleep=sleep, rng=rng, model=model,\n",
         "                sleep=sleep, rng=rng, model=model,\n"),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "retry-error-not-chained",
        {"lab03.llm-timeout-handled"},
        "'RetryError already carries last_error, `from error` is redundant': raises it "
        "inside the except block without chaining, so the last failure is only the implicit "
        "__context__, not the __cause__ the contract asks for (the retries end in a "
        "RetryError 'from it')",
        ("                raise RetryError(attempt, error) from error\n",
         "                raise RetryError(attempt, error)  # it carries last_error already\n"),
    ),
    _m(
        "retry-error-counts-retries",
        {"lab03.llm-timeout-handled"},
        "the chapter's maxRetries trap in the report: the RetryError is given the number of "
        "retries made (attempt - 1) instead of the attempts. The right requests are sent and "
        "it is raised on the right attempt, but with max_attempts=4 it says 'gave up after 3 "
        "attempts', and with max_attempts=1 'after 0'",
        ("                raise RetryError(attempt, error) from error\n",
         "                raise RetryError(attempt - 1, error) from error  # the retries made\n"),
    ),
    _m(
        "timeout-at-the-deadline-re-raised",
        # timeout-specific: a 503 in the same place still ends with DeadlineExceeded, so it is
        # the timed-out request that is handled differently (README: judged against the same
        # call whose timeout came back as a 503)
        {"lab03.llm-timeout-handled"},
        "'a request that timed out with no time left: that timeout is what happened, say "
        "so': after an APITimeoutError, when the deadline has passed, re-raises the timeout "
        "as it is. A timed-out request with time left is retried as before, and a 503 at the "
        "deadline ends in DeadlineExceeded; but the last request of a run, allowed exactly "
        "the time left, hangs to the deadline and the run ends with 'APITimeoutError: ...' "
        "and exhausted None instead of deadline exceeded",
        _IMPORT_OPENAI,
        ("""\
            if not is_transient(error):
                raise
""", """\
            if not is_transient(error):
                raise
            if isinstance(error, openai.APITimeoutError) and deadline.expired():
                raise  # it timed out with no time left: that timeout is what happened
"""),
    ),
    _m(
        "deadline-checked-before-the-last-attempt",
        # how the retries end on the last attempt (RetryError) is llm-timeout-handled's; no
        # wait is slept in either version, so retry-respects-deadline is not concerned
        {"lab03.llm-timeout-handled"},
        "'first see whether there is time to wait at all, then whether attempts are left': "
        "works out the next wait and compares it with the time left before the last-attempt "
        "test. Every earlier attempt is handled as before; when the last attempt fails and "
        "the wait that would have followed it (never to be slept) does not fit in the time "
        "left, the call raises DeadlineExceeded and the run records max_wall_time, instead "
        "of lab 01's RetryError with exhausted None",
        (_LAST_ATTEMPT, ""),
        (_WAIT_CHECK, _WAIT_CHECK + _LAST_ATTEMPT),
    ),
    _m(
        "retries-recorded-as-an-exhausted-budget",
        # the record of a RetryError (exhausted left None) is llm-timeout-handled's, as in
        # round 2's timeout-retries-exhausted-reported-as-deadline
        {"lab03.llm-timeout-handled"},
        "thinks of the retry policy's attempts as one more budget: a run whose retries gave "
        "up ends failed with its RetryError as it should, but with exhausted='max_attempts', "
        "where the contract leaves exhausted None for any failure that is not one of the "
        "three budgets. Permanent errors and budgets are recorded right",
        ("    except Exception as error:\n        _fail(run, error)\n", """\
    except Exception as error:
        if isinstance(error, RetryError):  # the retry budget ran out
            run.exhausted = "max_attempts"
        _fail(run, error)
"""),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "token-budget-named-max-tokens",
        {"lab03.budget-enforced"},
        "names the token budget after the OpenAI parameter it is used to seeing, max_tokens: "
        "the run stops at the right turn, failed, but records exhausted='max_tokens' (and "
        "says 'max_tokens exhausted'), which is not the budget's name, so a caller looking "
        "for max_llm_tokens never finds it. max_steps and the deadline are recorded right",
        ('"max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"',
         '"max_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"'),
    ),
    _m(
        "max-steps-arguments-swapped",
        {"lab03.budget-enforced"},
        "passes BudgetExceeded's two positional arguments in the order of its message "
        "('<detail> ... <budget>'): the detail first. The run stops at max_steps, failed, "
        "but records exhausted='3 of 3 steps used' instead of 'max_steps'. The token budget "
        "and the deadline are recorded right",
        ('raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")',
         'raise BudgetExceeded(f"{run.steps} of {budget.max_steps} steps used", "max_steps")'),
    ),
)
