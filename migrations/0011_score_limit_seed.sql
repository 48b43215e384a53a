ALTER TABLE `scores` ADD `limit_seed` integer;--> statement-breakpoint
UPDATE `scores` SET `limit_seed` = coalesce((SELECT json_extract(`runs`.`config`, '$.limitSeed') FROM `runs` WHERE `runs`.`id` = `scores`.`run_id`), 0) WHERE `row_limit` IS NOT NULL;
