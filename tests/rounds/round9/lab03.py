"""Round 9 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")
_IMPORT_FUNCTOOLS = ("import random\n", "import functools\nimport random\n")

_SINGLE = "    single = client.with_options(max_retries=0)\n"

_WAIT = """\
            requested = server_delay(error)
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
"""

_PERMANENT = """\
            if not is_transient(error):
                raise
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "check-raises-only-once-past-the-deadline",
        # what check() and timeout() say at the deadline is run-deadline-stops-loop's alone
        # (README); expired() itself stays right, unlike round 1's expired-only-once-past
        {"lab03.run-deadline-stops-loop"},
        "reads 'once it has passed' (the module docstring's words for the run deadline) "
        "into check() and writes it as `if self.clock() > self.at`, leaving expired() as "
        "remaining() <= 0. Before the deadline and strictly after it everything is right, "
        "and expired() is True at the deadline as it should be; but at its very instant "
        "(a tool or an answer that ends exactly on it, as frozen-clock durations do) "
        "check() does not raise, so timeout() returns 0 instead of raising, and run_agent "
        "and call_llm send one more request, with a timeout of 0, though no time is left",
        ("        if self.expired():\n            raise DeadlineExceeded()\n",
         "        if self.clock() > self.at:  # once it has passed\n"
         "            raise DeadlineExceeded()\n"),
    ),
    # -- lab03.deadline-exceeded-recorded ---
    _m(
        "loop-deadline-check-left-to-call-llm",
        # no request is ever sent after the deadline (call_llm's deadline.timeout() raises
        # before it sends), so stops-loop holds; what changes is which budget the run records
        # when the deadline has passed together with max_steps or max_llm_tokens, which the
        # README gives to deadline-exceeded-recorded
        {"lab03.deadline-exceeded-recorded"},
        "'call_llm starts with deadline.timeout(), which raises DeadlineExceeded when no "
        "time is left, so the loop's own deadline.check() is redundant': deletes it and "
        "keeps the max_steps and max_llm_tokens checks at the top of the turn. No request "
        "goes out after the deadline and a run that only runs out of time is recorded as "
        "before; but when the deadline has passed and max_steps (or max_llm_tokens) is also "
        "reached before the next turn (a slow tool in the turn that used the last step, a "
        "run handed in with its steps spent and max_wall_time=0), the run records "
        "exhausted='max_steps' ('max_llm_tokens') instead of DeadlineExceeded, which the "
        "contract checks first",
        ("        while True:\n            deadline.check()\n",
         "        while True:\n"
         "            # call_llm's deadline.timeout() raises DeadlineExceeded: no check needed here\n"),
    ),
    _m(
        "tool-results-after-the-deadline-dropped",
        {"lab03.deadline-exceeded-recorded"},
        "ports Go's `select { case <-ctx.Done(): return ctx.Err(); case res := <-results: }`: "
        "after running a turn's tools it checks the deadline before appending their "
        "results, 'a result that comes after the deadline is too late'. Tools that end "
        "before the deadline are kept as before, and the run still ends failed with "
        "DeadlineExceeded and its steps and tokens; but when a tool runs to or past the "
        "deadline (the notebook's deploy that takes minutes), the tool messages it produced "
        "are thrown away and the conversation ends on an assistant message whose tool calls "
        "have no results, losing progress the contract keeps",
        ("            run.messages.extend(run_tool_calls(reply, tools.execute))\n",
         "            results = run_tool_calls(reply, tools.execute)\n"
         "            deadline.check()  # results that come after the deadline are too late\n"
         "            run.messages.extend(results)\n"),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "zero-timeout-taken-for-no-time-left",
        # timeout() raising with time left is a wrong value of the step timeout rule (README:
        # while at least twice the step timeout is left, here any time at all, it is the step
        # timeout); at and after the deadline it raises as it should, and the run records
        # faithfully the DeadlineExceeded it was given
        {"lab03.step-timeout-sent"},
        "folds the check into the result, 'a timeout of 0 means there is no time for the "
        "operation': timeout() computes min(step_timeout, time left) and raises "
        "DeadlineExceeded when that is 0 or less. Every positive step timeout is right, and "
        "at the deadline it raises as it should; but a call given step_timeout=0 with the "
        "run's time ahead of it (the fine print: `step_timeout=0` sends 0) sends no request "
        "at all and fails with DeadlineExceeded, instead of sending its request with a "
        "timeout of 0",
        ("        self.check()\n        return min(step_timeout, self.remaining())",
         "        timeout = min(step_timeout, self.remaining())\n"
         "        if timeout <= 0:  # no time for the operation\n"
         "            raise DeadlineExceeded()\n"
         "        return timeout"),
    ),
    # -- lab03.timeout-shrinks-to-budget ---
    _m(
        "time-left-tracked-by-subtracting-the-waits",
        # the first attempt of every call is right, and no retry is sent without time left
        # (its wait fitted); only a retry's timeout can exceed the time left
        {"lab03.timeout-shrinks-to-budget"},
        "checks the deadline and reads the time left once when call_llm starts, then keeps "
        "it up to date by subtracting each backoff wait it sleeps ('the only time this call "
        "spends on purpose'), and gives every attempt min(step_timeout, that). The wait is "
        "still compared with deadline.remaining() as the docstring writes it. Every first "
        "attempt, and every retry after a failure that came at once, gets the right "
        "timeout; but the failed requests' own time is never subtracted, so near the end "
        "of the run a retry after a slow 5xx or a timed-out request (which took its whole "
        "timeout) is allowed the time that was left before it, more than is left now",
        (_SINGLE + "    for attempt in range(1, policy.max_attempts + 1):\n"
         "        timeout = deadline.timeout(step_timeout)\n",
         _SINGLE + "    deadline.check()\n"
         "    left = deadline.remaining()  # this call's time, spent by the waits below\n"
         "    for attempt in range(1, policy.max_attempts + 1):\n"
         "        timeout = min(step_timeout, left)\n"),
        ("            sleep(wait)\n", "            sleep(wait)\n            left -= wait\n"),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-memoised",
        {"lab03.child-deadline-min"},
        "reads 'The object never changes; child() makes a new one' as 'child is a pure "
        "function of its seconds' and memoises it with functools.lru_cache. The first "
        "child of each length is exactly right, as is every other method; but asking the "
        "same deadline again for a child of the same seconds later on the clock (a tool "
        "given 60 s on each turn of a run) returns the first child, set from the earlier "
        "moment: already past, or earlier than both the parent's deadline and now + seconds",
        _IMPORT_FUNCTOOLS,
        ('    def child(self, seconds: float) -> "Deadline":\n',
         "    @functools.lru_cache(maxsize=None)  # the object never changes: nor do its children\n"
         '    def child(self, seconds: float) -> "Deadline":\n'),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "backoff-index-counts-only-backoffs",
        # how long call_llm waits is retry-respects-deadline's (README), including the waits
        # around a server's delay
        {"lab03.retry-respects-deadline"},
        "numbers the backoff by the backoffs this call has made ('the n-th time I back "
        "off'), keeping a counter that only a backoff wait moves on, instead of by the "
        "attempt that failed. Calls whose failures carry no retry-after (the notebook's "
        "500s) and calls whose every failure carries one wait exactly as before; but after "
        "a 429 with retry-after: 3 then two 503s, the waits are 3, 1, 2 s instead of 3, 2, "
        "4 s, so a later wait that should not fit before the deadline is slept and the call "
        "retries where it should have raised DeadlineExceeded",
        (_SINGLE, _SINGLE + "    backoffs = 0  # backoff waits made so far\n"),
        (_WAIT, """\
            requested = server_delay(error)
            if requested is None:
                wait = backoff_delay(backoffs, policy, rng)  # the n-th backoff of this call
                backoffs += 1
            else:
                wait = min(requested, policy.max_delay)
"""),
    ),
    _m(
        "deadline-error-chained-to-a-retry-error",
        # the chaining of the DeadlineExceeded that ends a wait that does not fit is
        # retry-respects-deadline's, as for round 1's deadline-error-not-chained
        {"lab03.retry-respects-deadline"},
        "'the retries gave up because of the deadline: chain a RetryError so the cause says "
        "how many attempts were made and which failed last': when the wait does not fit it "
        "raises DeadlineExceeded from RetryError(attempt, error) instead of from the failure "
        "itself. The wait is not slept, the call fails at once with DeadlineExceeded and the "
        "run records it exactly as before; but the exception's __cause__ is a RetryError "
        "(which the call never raised) instead of the 503 or APITimeoutError the contract "
        "chains it to, so a caller looking at the cause for its status or retry-after finds "
        "neither",
        ("                ) from error\n",
         "                ) from RetryError(attempt, error)  # how many attempts, and the last failure\n"),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "only-429-and-5xx-statuses-retried",
        # which failures are transient and that a permanent one is raised as it is:
        # llm-timeout-handled (README), not lab 01's is_transient, which is right
        {"lab03.llm-timeout-handled"},
        "lets the OpenAI client's exception classes decide for HTTP errors: a status error "
        "is retried only if it is an openai.RateLimitError or openai.InternalServerError "
        "('429 and 5xx, as everyone retries'), and is_transient decides the rest. Every "
        "429, 5xx, timed-out request and refused connection is handled as before; but a "
        "408 Request Timeout (a request the server timed out, which the client maps to a "
        "plain APIStatusError) and a 409 Conflict, both transient for lab 01 and for the "
        "OpenAI client's own retries, are raised at once as permanent instead of retried",
        _IMPORT_OPENAI,
        (_PERMANENT, """\
            if isinstance(error, openai.APIStatusError):
                # the client's own classes say which statuses are worth another attempt
                retryable = isinstance(error, (openai.RateLimitError, openai.InternalServerError))
            else:
                retryable = is_transient(error)
            if not retryable:
                raise
"""),
    ),
    _m(
        "retry-error-carries-the-root-cause",
        {"lab03.llm-timeout-handled"},
        "'the openai exception only wraps what really went wrong': the RetryError of the "
        "last attempt is given `error.__cause__ or error` as its last_error (still raised "
        "from error). When the last attempt fails with an HTTP status (the client raises "
        "those from None) nothing changes; when it times out or its connection is refused, "
        "last_error is httpx's ReadTimeout or ConnectError instead of the APITimeoutError or "
        "APIConnectionError that attempt raised, and the run's error reads 'RetryError: gave "
        "up after 4 attempts: ReadTimeout(...)'",
        ("                raise RetryError(attempt, error) from error\n",
         "                raise RetryError(attempt, error.__cause__ or error) from error  # the root cause\n"),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "token-budget-checked-as-a-fraction",
        {"lab03.budget-enforced"},
        "writes the token check as the share of the budget used, `llm_tokens / "
        "max_llm_tokens >= 1`, the figure the seed's dashboards show ('83% of the token "
        "budget'). Every ordinary budget stops at exactly the right turn; but a run given "
        "max_llm_tokens=0 (no tokens at all: 0 of 0 has reached it) ends failed with "
        "'ZeroDivisionError: division by zero' and exhausted None instead of max_llm_tokens, "
        "and with budgets in the 10**17 range and above the float division rounds a budget "
        "one token short of spent up to 1.0 and stops the run a turn early",
        ("            if run.llm_tokens >= budget.max_llm_tokens:\n",
         "            if run.llm_tokens / budget.max_llm_tokens >= 1:  # the share of the budget used\n"),
    ),
)
