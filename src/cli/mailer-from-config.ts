import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../log/logger.js';
import { createSmtpMailer, type Mailer } from '../dead-letters/mailer.js';

/** Email alerts are on when both SMTP_URL and ALERT_EMAIL_TO are set; says so either way at start-up. */
export function mailerFromConfig(config: Config, logger: Logger): Mailer | undefined {
  if (!config.SMTP_URL || !config.ALERT_EMAIL_TO) {
    logger.info('Dead-letter email alerts are off (set SMTP_URL and ALERT_EMAIL_TO to turn them on)');
    return undefined;
  }
  logger.info({ smtp: redactUrl(config.SMTP_URL), to: config.ALERT_EMAIL_TO }, 'Dead-letter email alerts are on');
  return createSmtpMailer({ smtpUrl: config.SMTP_URL, from: config.ALERT_EMAIL_FROM, to: config.ALERT_EMAIL_TO });
}
