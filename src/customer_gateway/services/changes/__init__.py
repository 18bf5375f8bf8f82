"""Email and phone-number changes behind a one-time code: the change service, the flow the
gateway runs itself where a backend has none, and the attempts every flow takes before a code
is checked. (`otp/` holds what these use and keep: codes, the pending-change record,
notifiers; the flows are use cases, so they live with the other use cases.)"""

from customer_gateway.services.changes.gateway_flow import ChangeLimits, GatewayOtpFlow
from customer_gateway.services.changes.service import ChangeService

__all__ = ["ChangeLimits", "ChangeService", "GatewayOtpFlow"]
