CREATE TABLE `artifact_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`name` text NOT NULL,
	`r2_upload_id` text NOT NULL,
	`r2_key` text NOT NULL,
	`lease_token` text NOT NULL,
	`created_at` text NOT NULL
);
