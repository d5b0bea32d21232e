"""Round 7 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")

_WAIT = """\
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
"""

_WAIT_CHECK = "            if wait >= deadline.remaining():\n"

_PERMANENT = """\
            if not is_transient(error):
                raise
"""

_TOOL_RESULTS = "            run.messages.extend(run_tool_calls(reply, tools.execute))\n"

_GENERIC_BRANCH = "    except Exception as error:\n        _fail(run, error)\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.deadline-exceeded-recorded ---
    _m(
        "deadline-checked-before-each-tool",
        # no request goes out after the deadline (the top of the loop still checks it); what
        # differs is the run's record on expiry: the tools of the answer that came in are not
        # all run, so the conversation kept lacks their results. The run's record at the
        # deadline is deadline-exceeded-recorded's (README), as for round 5's
        # answer-at-the-deadline-discarded
        {"lab03.deadline-exceeded-recorded"},
        "takes the notebook's point that the time goes into the tools (a deploy can take "
        "minutes) and runs the reply's tool calls one by one itself, with deadline.check() "
        "before each, 'never start a tool after the deadline', instead of run_tool_calls. "
        "While the tools end before the deadline nothing changes; but when an answer comes "
        "in exactly at the deadline (a request given exactly the time left) its tool is not "
        "run, and when the first of two parallel tool calls runs past the deadline the "
        "second is skipped: the run fails with DeadlineExceeded, as it should, but keeps an "
        "assistant message whose tool calls have no results, where the contract runs every "
        "tool of the turn and checks the deadline before the next turn",
        ("from labs.kit.agent import AgentRun, Message, assistant_message, run_tool_calls\n",
         "from labs.kit.agent import (\n"
         "    AgentRun, Message, assistant_message, run_tool_calls, tool_message,  # noqa: F401\n"
         ")\n"),
        (_TOOL_RESULTS, """\
            for call in reply.tool_calls:
                deadline.check()  # a tool can take minutes: never start one after the deadline
                run.messages.append(tool_message(
                    call.id, tools.execute(call.function.name, call.function.arguments)
                ))
"""),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "tools-sent-only-on-the-first-turn",
        # the tools passed on with every request are step-timeout-sent's (its hint: "the ones
        # you must pass on with it (the model, the tools, ...)"); the fake's usage is
        # scripted, so no budget changes
        {"lab03.step-timeout-sent"},
        "reads in the notebook that the tool schemas are sent again on every turn and count "
        "against max_llm_tokens, and saves them: run_agent offers the model the tools with "
        "its first request only ('it has seen them'), and passes tools=() on every later "
        "turn. Every request of the first turn, retries included, carries the timeout, the "
        "model and the tools; from the second turn on the requests go out with no tools, "
        "though the API is stateless and needs them with every request",
        ("    run.state = TaskState.RUNNING\n",
         "    run.state = TaskState.RUNNING\n    offered = False  # the tool schemas, sent once\n"),
        ("                policy=policy, sleep=sleep, rng=rng, model=model,\n",
         "                policy=policy, sleep=sleep, rng=rng, model=model,\n"
         "                tools=() if offered else TOOL_SCHEMAS,  # the model has seen them\n"),
        ("            run.steps += 1\n", "            offered = True\n            run.steps += 1\n"),
    ),
    # -- lab03.timeout-shrinks-to-budget ---
    _m(
        "timeout-set-once-on-the-client-copy",
        # never above the step timeout, and the first attempt of every call is right: only a
        # retry sent with less than the step timeout left gets more than the time left
        # (timeout-shrinks-to-budget). Unlike round 2's timeout-computed-before-the-backoff-
        # sleep (the time left read after the failure, before the wait), the retry here gets
        # the first attempt's timeout: the time the failed requests took is missed too
        {"lab03.timeout-shrinks-to-budget"},
        "follows the notebook's 3.2, 'client.with_options(timeout=...) does it for every "
        "request of a copy of the client': the copy call_llm makes with max_retries=0 gets "
        "timeout=deadline.timeout(step_timeout) too, and create() is called without a "
        "timeout of its own. The first attempt of every call carries the right timeout in "
        "all four parts (and a call with no time left still raises DeadlineExceeded at "
        "once); but the retries reuse it: after a 500 that took 12 s and a 2 s wait, with "
        "6 s left, the retry is still allowed the 20 s the first attempt had",
        ("    single = client.with_options(max_retries=0)\n",
         "    # every request of this copy carries the timeout (notebook 3.2)\n"
         "    single = client.with_options(max_retries=0, timeout=deadline.timeout(step_timeout))\n"),
        ("        timeout = deadline.timeout(step_timeout)\n", ""),
        ("                timeout=timeout,\n", ""),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-compared-by-time-left",
        {"lab03.child-deadline-min"},
        "compares durations instead of moments: 'if the time I want is less than the parent "
        "has left, I get my own deadline, else the parent's' (if seconds < "
        "self.remaining(): Deadline.after(seconds) else self). While the parent has time "
        "left this is exactly the earlier of the two, and a child of a passed parent asked "
        "for zero or more seconds is the parent, as it should be; but remaining() is "
        "clamped at 0, so a child asked for a negative time (child(-5), 5 s in the past) of "
        "a parent that passed longer ago than that (10 s ago) gets its own deadline, later "
        "than its parent's",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        if seconds < self.remaining():  # less than the parent has left: my own\n"
         "            return Deadline.after(seconds, clock=self.clock)\n"
         "        return self  # the parent's comes first"),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "server-delay-not-capped-inside-a-deadline",
        # the wait call_llm takes after a server's delay is retry-respects-deadline's (as for
        # round 4's server-delay-used-as-a-floor); unlike round 3's server-delay-checked-
        # before-the-cap, the uncapped delay is also the one slept
        {"lab03.retry-respects-deadline"},
        "'the cap was there so that a server could not keep us waiting forever; the "
        "deadline does that now': takes the server's delay as it is, without "
        "min(..., policy.max_delay), since every wait is compared with the time left anyway. "
        "Backoff waits, and server delays up to max_delay, are as before; a 429 asking for "
        "45 s with max_delay 30 and 100 s left is waited 45 s instead of 30, and one asking "
        "for 45 s with 40 s left ends the call with DeadlineExceeded though the capped 30 s "
        "wait fitted",
        (_WAIT, """\
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else requested  # the deadline bounds every wait now: no cap needed
            )
"""),
    ),
    _m(
        "jitter-added-to-the-server-delay",
        # the wait after a server's delay is retry-respects-deadline's; the draw is not idle,
        # it changes the wait slept (and the draws of the later backoff waits)
        {"lab03.retry-respects-deadline"},
        "knows that a server's retry-after sends every client back at the same moment and "
        "'spreads the herd': with policy.jitter on, a random 0 to base_delay seconds is "
        "added to the server's delay (from the rng, or the random module). Without jitter "
        "nothing changes, and jittered backoff waits are drawn as before; with jitter and a "
        "retry-after the wait is longer than the server's (capped) delay, a delay that would "
        "have fitted before the deadline may not, and the next backoff waits draw from an "
        "rng one step further on",
        (_WAIT, _WAIT + """\
            if requested is not None and policy.jitter:  # spread the herd the server sent back
                wait += (rng or random).uniform(0.0, policy.base_delay)
"""),
    ),
    _m(
        "zero-wait-never-crosses-the-deadline",
        # a wait at the deadline: retry-respects-deadline's. Unlike the kit's
        # wait-may-end-at-the-deadline (> instead of >=), a positive wait ending exactly at
        # the deadline still raises; only a zero wait with no time left differs
        {"lab03.retry-respects-deadline"},
        "'a zero wait ends at once, it cannot end after the deadline': compares the wait "
        "with the time left only when it is positive. Every positive wait is handled as "
        "before, and so is a zero wait (retry-after: 0, base_delay=0) with time left; but "
        "when a failure comes exactly at the deadline (a request given exactly the time "
        "left) and the wait is zero, it sleeps that wait with no time left and raises "
        "DeadlineExceeded from the next attempt's deadline.timeout(), not from the failure "
        "and not at once",
        (_WAIT_CHECK,
         "            if wait > 0 and wait >= deadline.remaining():  # no wait: nothing to cross\n"),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "retry-error-recorded-as-its-last-error",
        # the run's record of a RetryError is llm-timeout-handled's (as for round 5's
        # retries-recorded-as-an-exhausted-budget); budgets and permanent errors are recorded
        # as before
        {"lab03.llm-timeout-handled"},
        "'the RetryError only wraps what really went wrong, and the user wants the real "
        "error': a run whose retries gave up records the RetryError's last_error, so it "
        "ends failed, exhausted None, with 'APITimeoutError: Request timed out.' or "
        "'InternalServerError: ...' as its error instead of 'RetryError: gave up after 3 "
        "attempts: ...'. A permanent error and every budget are recorded as before",
        (_GENERIC_BRANCH, """\
    except Exception as error:
        # a RetryError only wraps what really went wrong: record that
        _fail(run, error.last_error if isinstance(error, RetryError) else error)
"""),
    ),
    _m(
        "permanent-error-after-retries-wrapped",
        # how call_llm's retries end, a permanent error as it is, is llm-timeout-handled's;
        # unlike round 4's last-attempt-checked-before-permanence it happens with attempts
        # left (a 503 then a 400 with max_attempts=4); only a permanent error on the last
        # attempt is wrapped by both
        {"lab03.llm-timeout-handled"},
        "'once we have been retrying, a failure means the retries gave up': a permanent "
        "error on the first attempt is raised as it is, but one that comes after a "
        "transient failure (a 503, then a 400 or 422) is wrapped in RetryError(attempt, "
        "error). Transient failures, waits and the last attempt are as before; a run whose "
        "retry is rejected ends with 'RetryError: ...' instead of the permanent error itself",
        (_PERMANENT, """\
            if not is_transient(error):
                if attempt > 1:  # we were retrying: the retries gave up on this one
                    raise RetryError(attempt, error) from error
                raise
"""),
    ),
    _m(
        "only-http-errors-can-be-permanent",
        {"lab03.llm-timeout-handled"},
        "'only an HTTP status can say the request itself is wrong; anything else is the "
        "network': asks is_transient only of openai.APIStatusError and retries every other "
        "exception. Every 4xx and 5xx, timeout and refused connection is handled as before; "
        "but a permanent failure that is not an HTTP status (the TypeError the client raises "
        "before sending a message whose content is not JSON-serialisable, an "
        "APIResponseValidationError, a bug in a wrapped client) "
        "is retried with backoff max_attempts times and ends as a RetryError, instead of "
        "being raised at once, as it is",
        _IMPORT_OPENAI,
        (_PERMANENT, """\
            if isinstance(error, openai.APIStatusError) and not is_transient(error):
                raise  # only a status says the request itself is wrong
"""),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "step-limit-tested-for-equality",
        {"lab03.budget-enforced"},
        "stops 'when the steps reach max_steps' with ==, as a counter that goes up by one "
        "can only meet its limit. A fresh run stops at exactly max_steps, as it should; "
        "but a run handed in with more steps spent than its budget (resumed with a smaller "
        "budget, say 5 steps of max_steps=4), or given a negative max_steps, never meets "
        "the limit and sends requests until another budget stops it, where the contract "
        "says its steps have reached max_steps before the first turn",
        ("            if run.steps >= budget.max_steps:\n",
         "            if run.steps == budget.max_steps:  # the counter meets its limit\n"),
    ),
)
