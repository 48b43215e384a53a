CREATE TABLE `data_versions` (
	`key` text PRIMARY KEY NOT NULL,
	`version` text NOT NULL
);
--> statement-breakpoint
DROP INDEX `scores_board`;--> statement-breakpoint
CREATE INDEX `scores_across` ON `scores` (`scoring`,`metric`,`format`);--> statement-breakpoint
CREATE INDEX `scores_board` ON `scores` (`model_id`,`scoring`,`metric`,`format`);
-- Hand-written below the generated part: what bumps data_versions (see the table's comment in worker/src/db/schema.ts).
--> statement-breakpoint
CREATE TRIGGER `scores_versions_insert` AFTER INSERT ON `scores` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('boards', lower(hex(randomblob(8)))), ('model:' || NEW.model_id, lower(hex(randomblob(8)))), ('runs', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `scores_versions_update` AFTER UPDATE ON `scores` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('boards', lower(hex(randomblob(8)))), ('model:' || NEW.model_id, lower(hex(randomblob(8)))), ('runs', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `scores_versions_delete` AFTER DELETE ON `scores` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('boards', lower(hex(randomblob(8)))), ('model:' || OLD.model_id, lower(hex(randomblob(8)))), ('runs', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `runs_versions_insert` AFTER INSERT ON `runs` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('boards', lower(hex(randomblob(8)))), ('model:' || NEW.model_id, lower(hex(randomblob(8)))), ('runs', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `runs_versions_update` AFTER UPDATE ON `runs` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('boards', lower(hex(randomblob(8)))), ('model:' || NEW.model_id, lower(hex(randomblob(8)))), ('runs', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `runs_versions_delete` AFTER DELETE ON `runs` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('boards', lower(hex(randomblob(8)))), ('model:' || OLD.model_id, lower(hex(randomblob(8)))), ('runs', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `models_versions_insert` AFTER INSERT ON `models` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('models', lower(hex(randomblob(8)))), ('boards', lower(hex(randomblob(8)))), ('model:' || NEW.id, lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `models_versions_update` AFTER UPDATE ON `models` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('models', lower(hex(randomblob(8)))), ('boards', lower(hex(randomblob(8)))), ('model:' || NEW.id, lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `models_versions_delete` AFTER DELETE ON `models` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('models', lower(hex(randomblob(8)))), ('boards', lower(hex(randomblob(8)))), ('model:' || OLD.id, lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `model_files_versions_insert` AFTER INSERT ON `model_files` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('models', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `model_files_versions_update` AFTER UPDATE ON `model_files` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('models', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `model_files_versions_delete` AFTER DELETE ON `model_files` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('models', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `suites_versions_update` AFTER UPDATE ON `suites` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('suites', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
--> statement-breakpoint
CREATE TRIGGER `suites_versions_delete` AFTER DELETE ON `suites` BEGIN
  INSERT INTO `data_versions` (`key`, `version`) VALUES ('suites', lower(hex(randomblob(8))))
  ON CONFLICT (`key`) DO UPDATE SET `version` = lower(hex(randomblob(8)));
END;
