-- A provider's receipt names a delivery, not a tenant: the receipts route asks this function which tenant
-- the delivery belongs to (one uuid, no row), then records the receipt in a transaction bound to that
-- tenant like any other write. Runs as its owner, so the API's role needs no view across tenants.
CREATE FUNCTION delivery_tenant(delivery uuid) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT tenant_id FROM message_deliveries WHERE request_event_id = delivery LIMIT 1 $$;
