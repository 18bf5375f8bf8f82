"""`python -m customer_gateway` is the same CLI as `customer-gateway`."""

from customer_gateway.cli import main

raise SystemExit(main())
