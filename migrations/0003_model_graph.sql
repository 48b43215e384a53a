ALTER TABLE `model_files` ADD `graph_info` text;--> statement-breakpoint
ALTER TABLE `models` ADD `graph` text;