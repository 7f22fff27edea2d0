-- Outbound policy (src/outbound.rs): a local endpoint may reach the operator's internal
-- networks only when an admin registered it (or the operator opens them to members).
-- Endpoints saved before the policy count as an admin's when their account has an admin.
ALTER TABLE local_endpoints ADD COLUMN registered_by_admin INTEGER NOT NULL DEFAULT 0;
UPDATE local_endpoints SET registered_by_admin = EXISTS (
    SELECT 1 FROM users u WHERE u.account_id = local_endpoints.account_id AND u.role = 'admin'
);
