ALTER TABLE `jobs` ADD `corpus_pair` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `corpus_sha256` text;