CREATE TABLE `corpora` (
	`id` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`name` text NOT NULL,
	`src` text NOT NULL,
	`tgt` text NOT NULL,
	`visibility` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`r2_key` text NOT NULL,
	`stats` text NOT NULL,
	`skipped_lines` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `corpora_owner` ON `corpora` (`owner`);--> statement-breakpoint
CREATE TABLE `model_files` (
	`model_id` text NOT NULL,
	`name` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`r2_key` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`model_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `models` (
	`id` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`name` text NOT NULL,
	`family` text NOT NULL,
	`license` text,
	`visibility` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `models_owner` ON `models` (`owner`);--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text NOT NULL,
	`window` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`key`, `window`)
);
--> statement-breakpoint
CREATE TABLE `suites` (
	`id` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`name` text NOT NULL,
	`format` text NOT NULL,
	`lang` text NOT NULL,
	`visibility` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`r2_key` text NOT NULL,
	`stats` text NOT NULL,
	`skipped_lines` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `suites_owner` ON `suites` (`owner`);--> statement-breakpoint
CREATE TABLE `tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`name` text,
	`scopes` text NOT NULL,
	`secret_hash` text NOT NULL,
	`rate_limit_per_minute` integer,
	`created_at` text NOT NULL,
	`last_used_at` text,
	`revoked_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_secret_hash` ON `tokens` (`secret_hash`);--> statement-breakpoint
CREATE TABLE `upload_parts` (
	`upload_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`etag` text NOT NULL,
	`size` integer NOT NULL,
	PRIMARY KEY(`upload_id`, `part_number`)
);
--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`r2_upload_id` text NOT NULL,
	`r2_key` text NOT NULL,
	`model_id` text NOT NULL,
	`file_name` text NOT NULL,
	`owner` text NOT NULL,
	`created_at` text NOT NULL
);
