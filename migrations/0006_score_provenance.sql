ALTER TABLE `scores` ADD `template_lang` text;--> statement-breakpoint
ALTER TABLE `scores` ADD `subset` integer;--> statement-breakpoint
ALTER TABLE `scores` ADD `seed` integer;--> statement-breakpoint
ALTER TABLE `scores` ADD `row_limit` integer;