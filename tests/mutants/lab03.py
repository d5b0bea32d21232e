"""Lab 03's mutants: the mistakes a student makes with deadlines, timeouts and budgets."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_lab03 = mutants_of("lab03")

_LOOP_CHECK = """\
        while True:
            deadline.check()
"""
_TIMEOUT_CHECK = """\
        self.check()
        return min(step_timeout, self.remaining())"""
_WAIT_CHECK = "            if wait >= deadline.remaining():"
_RUN_AGENT_STEP_TIMEOUT = """\
    *,
    step_timeout: {},
    policy: RetryPolicy = RetryPolicy(),
    sleep: Sleep = time.sleep,
    clock:"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop
    _lab03(
        "no-deadline-anywhere",
        "lab03.run-deadline-stops-loop",
        "computes a timeout from the time left but never checks the deadline itself: at the "
        "deadline the loop goes on with a zero timeout",
        (_LOOP_CHECK, "        while True:\n"),
        (_TIMEOUT_CHECK, "        return min(step_timeout, self.remaining())"),
    ),
    _lab03(
        "deadline-checked-after-the-request",
        {"lab03.run-deadline-stops-loop", "lab03.deadline-exceeded-recorded"},
        "checks the deadline after each answer instead of before each request",
        (_LOOP_CHECK, "        while True:\n"),
        (_TIMEOUT_CHECK, "        return min(step_timeout, self.remaining())"),
        ("            run.steps += 1\n", "            run.steps += 1\n            deadline.check()\n"),
    ),
    # -- lab03.deadline-exceeded-recorded
    _lab03(
        "budget-error-escapes",
        # a budget error of any kind escapes, whatever failure led to it: llm-timeout-handled
        # judges what is timeout-specific only
        {"lab03.deadline-exceeded-recorded", "lab03.budget-enforced"},
        "lets the deadline error propagate out of run_agent: the run is left 'running'",
        ("    except BudgetExceeded as exhausted:\n",
         "    except BudgetExceeded as exhausted:\n        raise\n"),
    ),
    _lab03(
        "generic-deadline-error",
        "lab03.deadline-exceeded-recorded",
        "raises a plain RuntimeError when the deadline passes: nobody can tell it from a bug",
        ("            raise DeadlineExceeded()", '            raise RuntimeError("deadline exceeded")'),
    ),
    _lab03(
        "progress-dropped-on-failure",
        "lab03.deadline-exceeded-recorded",
        "resets the conversation when the run fails, losing the work done",
        ("    run.state = TaskState.FAILED\n",
         "    run.state = TaskState.FAILED\n    del run.messages[2:]\n    run.steps = 0\n"),
    ),
    # -- lab03.step-timeout-sent
    _lab03(
        "no-request-timeout",
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "sends the request without a timeout: the OpenAI client's 10-minute default applies",
        ("                timeout=timeout,\n", ""),
    ),
    _lab03(
        "timeout-is-the-time-left",
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "gives each request all the time left in the run, ignoring the step timeout",
        ("        return min(step_timeout, self.remaining())", "        return self.remaining()"),
    ),
    _lab03(
        "step-timeout-only-when-asked",
        "lab03.step-timeout-sent",
        "'no step timeout unless the caller asks for one': the default becomes None, and a "
        "request then gets all the time left in the run",
        ("    deadline: Deadline,\n    step_timeout: float = 30.0,",
         "    deadline: Deadline,\n    step_timeout: float | None = None,"),
        (_RUN_AGENT_STEP_TIMEOUT.format("float = 30.0"),
         _RUN_AGENT_STEP_TIMEOUT.format("float | None = None")),
        ("        return min(step_timeout, self.remaining())",
         ("        if step_timeout is None:\n            return self.remaining()\n"
          "        return min(step_timeout, self.remaining())")),
    ),
    _lab03(
        "model-not-passed-on",
        "lab03.step-timeout-sent",
        "passes the deadline, the timeout and the policy on to call_llm but forgets the model: "
        "every run talks to the default one",
        ("                policy=policy, sleep=sleep, rng=rng, model=model,\n",
         "                policy=policy, sleep=sleep, rng=rng,\n"),
    ),
    _lab03(
        "no-tools-offered",
        "lab03.step-timeout-sent",
        "sends the model, the messages and the timeout, and leaves the tools out of the request",
        ("                tools=list(tools),  # type: ignore[arg-type]\n", ""),
    ),
    # -- lab03.timeout-shrinks-to-budget
    _lab03(
        "constant-step-timeout",
        "lab03.timeout-shrinks-to-budget",
        "sends the step timeout as it is, even when less time is left in the run",
        ("        return min(step_timeout, self.remaining())", "        return step_timeout"),
    ),
    _lab03(
        "time-left-in-whole-seconds",
        "lab03.timeout-shrinks-to-budget",
        "counts the time left in whole seconds: with half a second left the run is over",
        ("        return max(0.0, self.at - self.clock())",
         "        return float(max(0, int(self.at - self.clock())))"),
    ),
    # -- lab03.child-deadline-min
    _lab03(
        "child-ignores-its-parent",
        "lab03.child-deadline-min",
        "the child takes its own timeout and forgets the parent's deadline",
        ("return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "return Deadline(self.clock() + seconds, clock=self.clock)"),
    ),
    _lab03(
        "child-takes-the-later",
        "lab03.child-deadline-min",
        "'the child needs its time': the later of the two deadlines wins",
        ("return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "return Deadline(max(self.at, self.clock() + seconds), clock=self.clock)"),
    ),
    # -- lab03.retry-respects-deadline
    _lab03(
        "sleeps-through-the-deadline",
        "lab03.retry-respects-deadline",
        "waits the backoff whatever the time left, and finds out after the sleep",
        (_WAIT_CHECK, "            if False:"),
    ),
    _lab03(
        "server-delay-not-checked",
        "lab03.retry-respects-deadline",
        "checks the computed backoff against the time left but trusts the server's delay",
        (_WAIT_CHECK, "            if requested is None and wait >= deadline.remaining():"),
    ),
    _lab03(
        "wait-may-end-at-the-deadline",
        "lab03.retry-respects-deadline",
        "sleeps a wait that ends exactly at the deadline, leaving no time for the next attempt",
        (_WAIT_CHECK, "            if wait > deadline.remaining():"),
    ),
    _lab03(
        "client-retries-left-on",
        "lab03.retry-respects-deadline",
        "copies the client with with_options() and forgets max_retries=0: the client retries "
        "on its own underneath, with waits that know nothing of the deadline (found by "
        "mutation testing)",
        ("single = client.with_options(max_retries=0)", "single = client.with_options()"),
    ),
    _lab03(
        "rng-not-passed-on",
        "lab03.retry-respects-deadline",
        "forgets to pass the run's rng on to call_llm: the waits come from the global random",
        ("                policy=policy, sleep=sleep, rng=rng, model=model,\n",
         "                policy=policy, sleep=sleep, model=model,\n"),
    ),
    # -- lab03.llm-timeout-handled
    _lab03(
        "timeouts-not-retried",
        "lab03.llm-timeout-handled",
        "'a timeout means the model is down': APITimeoutError is raised at once",
        ("            if not is_transient(error):",
         "            if type(error).__name__ == 'APITimeoutError' or not is_transient(error):"),
    ),
    _lab03(
        "gives-up-an-attempt-early",
        "lab03.llm-timeout-handled",
        "counts the retries, not the attempts: gives up after max_attempts - 1 requests",
        ("            if attempt == policy.max_attempts:",
         "            if attempt == policy.max_attempts - 1:"),
    ),
    _lab03(
        "retries-every-error",
        "lab03.llm-timeout-handled",
        "'retrying never hurts': a 400 is retried like a timeout",
        ("            if not is_transient(error):\n                raise\n", ""),
    ),
    _lab03(
        "only-budget-errors-caught",
        "lab03.llm-timeout-handled",
        "catches the budget errors only: a RetryError or a permanent error escapes run_agent",
        ("    except Exception as error:\n        _fail(run, error)\n", ""),
    ),
    # -- lab03.budget-enforced
    _lab03(
        "steps-off-by-one",
        "lab03.budget-enforced",
        "stops only once steps exceed max_steps: one turn too many",
        ("if run.steps >= budget.max_steps:", "if run.steps > budget.max_steps:"),
    ),
    _lab03(
        "tokens-must-exceed-the-budget",
        "lab03.budget-enforced",
        "stops once the tokens exceed max_llm_tokens, not once they reach it: one turn too many",
        ("if run.llm_tokens >= budget.max_llm_tokens:", "if run.llm_tokens > budget.max_llm_tokens:"),
    ),
    _lab03(
        "tokens-never-counted",
        "lab03.budget-enforced",
        "declares max_llm_tokens but never adds up the responses' usage",
        ("                run.llm_tokens += completion.usage.total_tokens",
         "                pass"),
    ),
    _lab03(
        "prompt-tokens-only",
        "lab03.budget-enforced",
        "counts the prompt's tokens and forgets the completion's",
        ("run.llm_tokens += completion.usage.total_tokens",
         "run.llm_tokens += completion.usage.prompt_tokens"),
    ),
)
