ALTER TABLE `jobs` ADD `idempotency_sha` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `lease_holder` text;