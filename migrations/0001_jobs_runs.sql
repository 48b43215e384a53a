CREATE TABLE `job_artifacts` (
	`job_id` text NOT NULL,
	`name` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`r2_key` text NOT NULL,
	`lease_token` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`job_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`spec` text NOT NULL,
	`model_id` text NOT NULL,
	`sweep_id` text,
	`visibility` text NOT NULL,
	`idempotency_key` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`lease_token` text,
	`lease_expires_at` integer,
	`runner_id` text,
	`progress_stage` text,
	`progress_done` integer,
	`progress_total` integer,
	`error` text,
	`run_id` text,
	`created_at` text NOT NULL,
	`started_at` text,
	`finished_at` text,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_status` ON `jobs` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_model` ON `jobs` (`model_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_idempotency` ON `jobs` (`owner`,`idempotency_key`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`owner` text NOT NULL,
	`kind` text NOT NULL,
	`visibility` text NOT NULL,
	`model_id` text NOT NULL,
	`model_sha256` text,
	`corpus_sha256` text,
	`variant` text NOT NULL,
	`config` text NOT NULL,
	`code_version` text NOT NULL,
	`overall_sparsity` real,
	`layers` text NOT NULL,
	`artifacts` text NOT NULL,
	`timings` text NOT NULL,
	`extra` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runs_job` ON `runs` (`job_id`);--> statement-breakpoint
CREATE INDEX `runs_model` ON `runs` (`model_id`);--> statement-breakpoint
CREATE TABLE `scores` (
	`run_id` text NOT NULL,
	`model_id` text NOT NULL,
	`visibility` text NOT NULL,
	`owner` text NOT NULL,
	`variant` text NOT NULL,
	`method` text NOT NULL,
	`sparsity` real,
	`pattern` text,
	`calibration` text,
	`suite_id` text NOT NULL,
	`format` text NOT NULL,
	`lang` text NOT NULL,
	`scoring` text NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`run_id`, `suite_id`, `scoring`, `metric`)
);
--> statement-breakpoint
CREATE INDEX `scores_board` ON `scores` (`model_id`,`format`,`scoring`,`metric`);