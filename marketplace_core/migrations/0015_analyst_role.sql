-- Analysts (issue 10 §1): staff who read every shop's reports on the serving API and
-- manage nothing. Created from the shell only (`python -m marketplace_core.accounts
-- create-analyst`), TOTP 2FA like admins, and they log in through POST /auth/login.
alter table users drop constraint users_role_check;
alter table users add constraint users_role_check
    check (role in ('buyer', 'seller', 'admin', 'analyst'));
