"""Round 8 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_MATH = ("import random\n", "import math\nimport random\n")
_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")

_RUN_DEADLINE = "    deadline = Deadline.after(budget.max_wall_time, clock=clock)\n"

_BUDGET_BRANCH = """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
"""

_TIMEOUT_LINE = "        timeout = deadline.timeout(step_timeout)\n"

_WAIT = """\
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
"""

_WAIT_CHECK = "            if wait >= deadline.remaining():\n"

_CALL_EXCEPT = """\
        except Exception as error:
            if not is_transient(error):
"""

_CHILD = "        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "negative-wall-time-means-no-limit",
        # with a negative max_wall_time every request the mutant sends goes out once no time
        # is left, which is run-deadline-stops-loop's alone (README); no deadline is ever
        # detected, so there is no deadline error to record, and no request is legitimately
        # sent whose timeout or waits could be judged (as for round 6's
        # wall-time-zero-means-no-limit). Zero and every positive budget are right
        {"lab03.run-deadline-stops-loop"},
        "follows the convention of .NET's Timeout.Infinite (-1), socket and queue APIs and "
        "many CLIs, where a negative time limit means 'no limit': the run's deadline is "
        "math.inf when max_wall_time < 0. max_wall_time=0 still has no time at all and every "
        "positive budget is kept exactly as before; but a run given max_wall_time=-1, whose "
        "deadline lies a second before its start (Deadline.after: a negative seconds is a "
        "moment already past) and which must end failed with DeadlineExceeded before sending "
        "anything, sends its requests with the full step timeout and can complete",
        _IMPORT_MATH,
        (_RUN_DEADLINE,
         "    # a negative time limit means no limit, as .NET's Timeout.Infinite (-1)\n"
         "    wall_time = math.inf if budget.max_wall_time < 0 else budget.max_wall_time\n"
         "    deadline = Deadline.after(wall_time, clock=clock)\n"),
    ),
    # -- lab03.deadline-exceeded-recorded ---
    _m(
        "budget-failure-named-after-the-except-clause",
        # only the deadline's record is wrong: max_steps and max_llm_tokens are raised as a
        # plain BudgetExceeded, so their "BudgetExceeded: ..." is exactly the solution's
        {"lab03.deadline-exceeded-recorded"},
        "writes the budget branch by hand, 'every budget that runs out is a BudgetExceeded', "
        "and names the error after the except clause: run.error = f'BudgetExceeded: "
        "{exhausted}'. A run stopped by max_steps or max_llm_tokens is recorded exactly as "
        "before (its exception is a BudgetExceeded), and exhausted says max_wall_time as it "
        "should; but every run that runs out of time, at the top of a turn or inside "
        "call_llm, records 'BudgetExceeded: max_wall_time exhausted: ...' instead of "
        "'DeadlineExceeded: ...', the <ExceptionType> of the exception that ended it",
        (_BUDGET_BRANCH, """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        run.state = TaskState.FAILED
        run.error = f"BudgetExceeded: {exhausted}"  # every budget is a BudgetExceeded
"""),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "shorter-client-timeout-kept",
        # only with a client built with a number for its timeout, smaller than the step
        # timeout: far from the deadline the request gets less than the step timeout
        # (step-timeout-sent); nearer it, less than min(step timeout, time left), which the
        # README gives to timeout-shrinks-to-budget. Never more than either
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "'never override a stricter timeout the caller already set on the client': when "
        "client.timeout is a plain number (OpenAI(timeout=5.0), with_options(timeout=5)) "
        "each request is sent with the smaller of it and deadline.timeout(step_timeout). "
        "With the client's default (an httpx.Timeout of 600 s), the notebook's, or a "
        "client timeout above the step timeout nothing changes; with a client made with "
        "timeout=5 and step_timeout=30, every request far from the deadline goes out with "
        "5 s instead of the step timeout, and one with 20 s left with 5 s instead of 20",
        (_TIMEOUT_LINE, _TIMEOUT_LINE + """\
        if isinstance(client.timeout, (int, float)):  # a stricter timeout the caller set wins
            timeout = min(timeout, client.timeout)
"""),
    ),
    _m(
        "zero-step-timeout-means-none",
        # step_timeout=0: "at least twice the step timeout" is always left, so every request
        # must carry 0; it carries the time left, above the step timeout (step-timeout-sent).
        # Never above the time left, and there is no "nearer the deadline" region
        {"lab03.step-timeout-sent"},
        "follows the convention that a timeout of 0 means 'no timeout of its own' (as many "
        "client libraries' timeout=0 settings): takes deadline.timeout(step_timeout or "
        "math.inf), so the run's deadline alone bounds a request. Every positive step "
        "timeout is sent exactly as before; a call given step_timeout=0, whose every "
        "request must carry a timeout of 0 (the step timeout, less than any time left), "
        "sends the whole time left instead",
        _IMPORT_MATH,
        (_TIMEOUT_LINE,
         "        # a step timeout of 0 means none of its own: the deadline alone bounds it\n"
         "        timeout = deadline.timeout(step_timeout or math.inf)\n"),
    ),
    # -- lab03.timeout-shrinks-to-budget ---
    _m(
        "infinite-step-timeout-sent-as-none",
        # step_timeout=inf: no request may be above the time left (timeout-shrinks-to-budget);
        # None is no timeout at all, unbounded like the infinite step timeout, so it is not
        # above the step timeout, and "twice the step timeout left" never holds, so
        # step-timeout-sent's rules are not concerned. Finite step timeouts are unchanged
        {"lab03.timeout-shrinks-to-budget"},
        "knows that a socket cannot be given an infinite timeout (settimeout(inf) overflows) "
        "and that None is httpx's 'no timeout': when the caller passes step_timeout=math.inf "
        "('no per-request limit, the run's deadline is enough') the request is sent with "
        "timeout=None. Every finite step timeout is sent exactly as before; with an infinite "
        "one each request goes out with no timeout at all, where the contract gives it "
        "min(inf, time left), the time left in the run, so a hung model can outlive the "
        "deadline",
        _IMPORT_MATH,
        ("                timeout=timeout,\n",
         "                # httpx takes None, not inf, for no timeout\n"
         "                timeout=None if math.isinf(step_timeout) else timeout,\n"),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-counted-from-the-parents-creation",
        {"lab03.child-deadline-min"},
        "'a deadline remembers when it was made, so it need not read the clock again': "
        "__init__ keeps clock() as self.start, and child(seconds) takes min(at, start + "
        "seconds). A child made at once, before the clock moves (as in most unit tests), is "
        "exactly right, and so is every other method; but the notebook's tool that needs "
        "150 s, started 200 s into a 300 s run, gets a deadline of 150 s, already 50 s past, "
        "instead of the run's 300 s, and a child made later is always too early",
        ("        self.at = at\n        self.clock = clock\n",
         "        self.at = at\n        self.clock = clock\n"
         "        self.start = clock()  # when this deadline was made\n"),
        (_CHILD,
         "        return Deadline(min(self.at, self.start + seconds), clock=self.clock)"),
    ),
    _m(
        "after-negative-seconds-clamped",
        # where Deadline.after's instant lies is child-deadline-min's (README). run_agent is
        # unchanged: a deadline of now and one in the past both leave no time, and child()
        # does not go through after()
        {"lab03.child-deadline-min"},
        "'a negative duration is a caller's bug: treat it as 0', as threading's "
        "Event.wait(-1) and asyncio.sleep(-1) do: Deadline.after(seconds) takes max(0, "
        "seconds). Every deadline of zero or more seconds is exactly as before, and a run "
        "with a negative max_wall_time still fails at once without a request, since now "
        "leaves no time either; but Deadline.after(-5) lies at now instead of 5 s in the "
        "past, so its `at` is later than the moment it was asked for",
        ("        return cls(clock() + seconds, clock=clock)",
         "        return cls(clock() + max(0.0, seconds), clock=clock)  # negative: a caller's bug"),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "server-delay-over-the-cap-distrusted",
        # the wait call_llm takes after a server's delay is retry-respects-deadline's (as for
        # round 4's server-delay-used-as-a-floor); unlike round 6's
        # server-delay-that-does-not-fit-replaced-by-the-backoff, the delay is replaced
        # whenever it is over the cap, however much time is left
        {"lab03.retry-respects-deadline"},
        "ports openai-python's own rule (_calculate_retry_timeout trusts a retry-after only "
        "up to 60 s and otherwise computes its own backoff): a server delay above "
        "policy.max_delay is 'not believable', so the wait is backoff_delay(...) instead of "
        "the capped delay. Server delays up to the cap, zero included, and every run "
        "without retry-after are as before; a 429 asking for 45 s with max_delay 30 is "
        "waited 1 s (the first backoff) instead of 30 s, and with 20 s left the call retries "
        "after that 1 s instead of raising DeadlineExceeded at once, since the capped 30 s "
        "wait would not end before the deadline",
        (_WAIT, """\
            # as openai-python's client: a retry-after over the cap is not trusted
            wait = (
                requested
                if requested is not None and requested <= policy.max_delay
                else backoff_delay(attempt - 1, policy, rng)
            )
"""),
    ),
    _m(
        "wait-compared-with-the-next-timeout",
        # both effects are the wait rule's: a wait that fits is not slept, and at the deadline
        # the DeadlineExceeded comes from deadline.timeout(), not "from the failure" (as for
        # round 1's deadline-error-not-chained). The run's record is unchanged: a
        # DeadlineExceeded, max_wall_time
        {"lab03.retry-respects-deadline"},
        "'a wait is only worth it if it is shorter than what the next attempt would get': "
        "compares the wait with deadline.timeout(step_timeout), the next request's timeout, "
        "instead of deadline.remaining(). While the step timeout is longer than every wait "
        "(the default 30 s against 1, 2, 4 s; the notebook's 20 s against 8 and 16 s, and "
        "32 s against 20 s left) nothing changes; but with step_timeout=5 and base_delay=8, "
        "a run with minutes left gives up with DeadlineExceeded instead of sleeping 8 s, and "
        "a failure that comes exactly at the deadline raises DeadlineExceeded from "
        "deadline.timeout(), with no __cause__, instead of from the failure",
        (_WAIT_CHECK,
         "            if wait >= deadline.timeout(step_timeout):  # what the next attempt gets\n"),
    ),
    _m(
        "backoff-streak-kept-across-calls",
        # how long a wait of call_llm is: retry-respects-deadline's. Inside one call that
        # starts after a success the waits are the solution's; only state left by an earlier
        # call that failed changes them
        {"lab03.retry-respects-deadline"},
        "keeps the backoff going across calls, 'so that an endpoint that keeps failing is "
        "backed off further', as gRPC's reconnect backoff does until a success: the retry "
        "index is a module-level count of transient failures since the last success, reset "
        "when a request succeeds. Every call after a success (the notebook's runs, each "
        "scenario on its own) waits 1, 2, 4 s as before; but after a call that gave up "
        "(RetryError after 4 attempts, a DeadlineExceeded, a permanent error after a 503), "
        "the next call_llm, in another run, waits 8, 16, 30 s from its first failure, and "
        "near its deadline gives up where a 1 s wait fitted",
        ("Sleep = Callable[[float], None]\n",
         "Sleep = Callable[[float], None]\n\n"
         "#: Transient failures since the last success, across calls: the backoff goes on.\n"
         "_streak = {\"failures\": 0}\n"),
        ("            return single.chat.completions.create(\n",
         "            completion = single.chat.completions.create(\n"),
        (_WAIT, """\
            wait = (
                backoff_delay(_streak["failures"], policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
            _streak["failures"] += 1
"""),
        ("            sleep(wait)\n", """\
            sleep(wait)
        else:
            _streak["failures"] = 0  # a success ends the streak
            return completion
"""),
    ),
    _m(
        "max-delay-zero-means-no-cap",
        # the wait call_llm takes after a server's delay is retry-respects-deadline's; with
        # max_delay=0 the backoff waits are 0 in both versions (lab 01's backoff_delay caps
        # them), only a server's delay differs
        {"lab03.retry-respects-deadline"},
        "reads max_delay=0 as 'no cap', as many settings use 0 for unlimited: caps the "
        "server's delay with min(requested, policy.max_delay or math.inf). Every positive "
        "max_delay is applied as before, and backoff waits are lab 01's; but a policy with "
        "max_delay=0 (never wait: retry at once) waits whatever a 429's retry-after asks, "
        "5 s instead of 0, and near the deadline raises DeadlineExceeded where the capped "
        "0 s wait fitted",
        _IMPORT_MATH,
        ("                else min(requested, policy.max_delay)\n",
         "                else min(requested, policy.max_delay or math.inf)  # 0: no cap\n"),
    ),
    # -- lab03.llm-timeout-handled ---
    # -- lab03.budget-enforced ---
    _m(
        "steps-read-from-the-conversation",
        {"lab03.budget-enforced"},
        "'the conversation is the source of truth: one assistant message per turn' (as the "
        "fake LLM's by_turn counts them): checks max_steps against the number of assistant "
        "messages in run.messages instead of run.steps. A fresh run, and a resumed one whose "
        "conversation was kept with its steps, is stopped exactly as before; but a run "
        "handed in with steps already spent and a fresh conversation (steps=3 of "
        "max_steps=4) gets all four turns again, and one whose conversation starts with "
        "few-shot assistant examples is stopped before it has used its steps",
        ("            if run.steps >= budget.max_steps:\n",
         "            # one assistant message per turn: the conversation says how many were taken\n"
         "            turns = sum(1 for message in run.messages if message.get(\"role\") == \"assistant\")\n"
         "            if turns >= budget.max_steps:\n"),
    ),
)


#: Mutants this round wrote that only a client the contract does not allow could show:
#: ``call_llm`` takes an ``OpenAI`` client, whose every failure is one of openai's own
#: errors. Counted as misses in the round's figure, and kept out of the mutants.
UNOBSERVABLE: tuple[Mutant, ...] = (
    _m(
        "only-openai-errors-caught",
        # a transient failure raised at once is how call_llm's retries end (README), as for
        # round 6's connection-errors-not-caught; no wait is slept in the mutant, so the wait
        # rules are judged against that (none). Permanent errors escape as they are in both
        {"lab03.llm-timeout-handled"},
        "catches the library's documented base class, `except openai.OpenAIError`, 'the "
        "only errors create() raises'. Every 429, 5xx, APITimeoutError and "
        "APIConnectionError is retried as before, and a permanent error that is not the "
        "client's (a TypeError) still escapes at once, as it is; but a transient failure "
        "that is not an openai error, a plain TimeoutError, ConnectionError or "
        "httpx.TransportError raised by a wrapped or instrumented client (which lab 01's "
        "is_transient calls transient), escapes call_llm at once and ends the run failed "
        "with it, though attempts and time were left",
        _IMPORT_OPENAI,
        (_CALL_EXCEPT, """\
        except openai.OpenAIError as error:  # the client's errors: the only ones it raises
            if not is_transient(error):
"""),
    ),
)
