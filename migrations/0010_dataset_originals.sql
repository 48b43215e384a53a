ALTER TABLE `corpora` ADD `original_sha256` text;--> statement-breakpoint
ALTER TABLE `corpora` ADD `original_size` integer;--> statement-breakpoint
ALTER TABLE `corpora` ADD `original_r2_key` text;--> statement-breakpoint
ALTER TABLE `corpora` ADD `original_content_type` text;--> statement-breakpoint
ALTER TABLE `corpora` ADD `original_parts` text;--> statement-breakpoint
ALTER TABLE `suites` ADD `original_sha256` text;--> statement-breakpoint
ALTER TABLE `suites` ADD `original_size` integer;--> statement-breakpoint
ALTER TABLE `suites` ADD `original_r2_key` text;