"""The broker's health, as the task service sees it when it sends tasks."""

import logging
import time

logger = logging.getLogger(__name__)


class BrokerHealth:
    """Logs when the broker stops and starts answering, instead of once per task."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.retry_at = 0.0

    def failed(self, what: str, exc: BaseException, retry_in: float) -> None:
        """Note that ``what`` failed; the next attempt is due in ``retry_in`` seconds."""
        now = time.monotonic()
        self.retry_at = now + retry_in
        if self.down_since is None:
            self.down_since = now
            logger.warning(
                "could not %s (%s): queued tasks stay in the database and are sent "
                "once the broker answers",
                what,
                str(exc) or type(exc).__name__,
            )
        else:
            logger.debug("could not %s", what, exc_info=exc)

    def answered(self) -> None:
        """Note that the broker answered: sending is due at once again."""
        if self.down_since is not None:
            logger.info(
                "the broker answers again after %.1f s; sending tasks resumes",
                time.monotonic() - self.down_since,
            )
            self.down_since = None
        self.retry_at = 0.0
