CREATE TABLE `sessions` (
	`secret_hash` text PRIMARY KEY NOT NULL,
	`token_id` text NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sessions_token` ON `sessions` (`token_id`);--> statement-breakpoint
CREATE INDEX `sessions_expires` ON `sessions` (`expires_at`);