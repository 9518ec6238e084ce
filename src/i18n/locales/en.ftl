# gatehouse's texts in English: every email and every page. The other languages have the same
# messages; a test fails when one is missing anywhere.
#
# Every message may use { $product } (GATEHOUSE_PRODUCT_NAME) and { $site } (the address people
# use gatehouse at). Override any message by putting it in GATEHOUSE_TEMPLATES_DIR/en.ftl.

## Lifetimes: "expires in { $valid }"

duration-days = { $n ->
    [one] 1 day
   *[other] { $n } days
}
duration-hours = { $n ->
    [one] 1 hour
   *[other] { $n } hours
}
duration-minutes = { $n ->
    [one] 1 minute
   *[other] { $n } minutes
}
duration-seconds = { $n ->
    [one] 1 second
   *[other] { $n } seconds
}

## Emails. Each has a subject, its paragraphs and, when it carries a link, a button. In the
## plain-text part the link (and a code) stand on lines of their own.

email-footer = { $product } · { $site }

activation =
    .subject = Confirm your email address
    .intro = Welcome to { $product }! To activate your account, open this link:
    .button = Activate my account
    .outro = The link works once and expires in { $valid }. If you did not sign up, ignore this email; no account will be activated.

activation-unlinking =
    .intro = To activate your account at { $product }, open this link:
    .provider = This account was started by logging in with a { $provider } account. Activating it by this link removes that { $provider } login, since nothing shows it is yours. If it was yours, log in and link it again from your account page.

activation-through =
    .subject = Confirm your email address
    .intro-with-address = An account was just made at { $product } with this address by logging in with the { $provider } account { $address }.
    .intro = An account was just made at { $product } with this address by logging in with a { $provider } account.
    .confirm = If that was you, confirm your address: the link works once and expires in { $valid }. Confirming lets that { $provider } account log in to it.
    .button = Confirm my address
    .outro = If it was not you, ignore this email: the account stays inactive. You can still sign up yourself, or use "forgot password", which unlinks that login.

password-reset =
    .subject = Reset your password
    .intro = Someone asked to reset the password of your account at { $product }. To choose a new password, open this link:
    .button = Choose a new password
    .outro = The link works once and expires in { $valid }. If it was not you, ignore this email; your password stays as it is.

email-login =
    .subject = Your login link
    .intro = Someone asked to log in to your account at { $product }. To log in, open this link:
    .button = Log in
    .code = Or enter this code where you asked for it:
    .outro = The link and the code work once, together, and expire in { $valid }. If it was not you, ignore this email; nothing happens without them.

email-signup =
    .subject = Your sign-up link
    .intro = Someone asked to sign up at { $product } with this address. To create your account and log in, open this link:
    .button = Create my account and log in
    .code = Or enter this code where you asked for it:
    .outro = The link and the code work once, together, and expire in { $valid }. If it was not you, ignore this email; nothing happens without them.

password-changed =
    .subject = Your password was changed
    .intro = The password of your account at { $product } was just changed. Other sessions have been logged out.
    .outro = If this was you, there is nothing to do. If it was not, reset your password at once ("forgot password" at { $site }) and review your account.

password-reset-notice =
    .subject = Your password was changed
    .intro = The password of your account at { $product } was just reset with a link sent to this address. Other sessions have been logged out.
    .outro = If this was you, there is nothing to do. If it was not, reset your password at once ("forgot password" at { $site }) and review your account.

email-change =
    .subject = Confirm your new email address
    .intro = Someone asked to use this address for their account at { $product }. To confirm the change, open this link:
    .button = Confirm my new address
    .outro = The link works once and expires in { $valid }. If it was not you, ignore this email; nothing changes.

email-changed =
    .subject = Your email address was changed
    .intro = The email address of your account at { $product } was just changed to { $address }. If this was you, there is nothing to do.
    .undo = If it was not, open this link to restore this address and log out every session:
    .button = Undo the change
    .outro = The link works once and expires in { $valid }.

invitation =
    .subject = You are invited to join { $org } at { $product }
    .intro = You were invited to join the organization { $org } at { $product }, with the role { $role }. To accept, open this link and log in, or sign up, with this email address:
    .button = Accept the invitation
    .outro = The link expires in { $valid }. If you do not know this organization, ignore this email; nothing happens.

signup-attempt =
    .subject = Someone tried to sign up with your address
    .intro = Someone just tried to create an account at { $product } with this email address, but it has one already.
    .outro = If it was you, log in instead, or use "forgot password" there if you no longer know your password. If it was not you, ignore this email; nothing has changed.

mfa-enabled =
    .subject = Two-step login is on
    .intro = An authenticator app was just added to your account at { $product }: logging in now takes a code from it after the password.
    .keep = Keep your recovery codes somewhere safe; each one works once if the app is lost.
    .outro = If this was not you, reset your password at once ("forgot password" at { $site }) and ask an administrator to remove the authenticator.

mfa-disabled =
    .subject = Two-step login is off
    .intro = The authenticator app and recovery codes of your account at { $product } were just removed from a session of your account: logging in takes only the password now.
    .intro-by-admin = The authenticator app and recovery codes of your account at { $product } were just removed by an administrator: logging in takes only the password now.
    .outro = If this was not you, reset your password at once ("forgot password" at { $site }) and turn two-step login on again.

recovery-code-used =
    .subject = A recovery code was used
    .intro = A recovery code was just used to log in to your account at { $product }. { $left ->
        [0] None are left: make a new set in your account settings now.
        [one] 1 is left; make a new set in your account settings soon.
       *[other] { $left } are left.
    }
    .outro = If this was not you, reset your password at once ("forgot password" at { $site }) and make a new set of recovery codes.

passkey-added =
    .subject = A passkey was added
    .intro = A passkey named "{ $name }" was just added to your account at { $product }; it logs in without the password and serves as a second factor.
    .outro = If this was not you, reset your password at once ("forgot password" at { $site }) and remove the passkey in your account settings.

impersonation-notice =
    .subject = An administrator opened your account
    .intro = An administrator of { $product } is acting as you, to see your account as you see it. They cannot change your password, second factors or address, and their access ends within 15 minutes.
    .reason = The reason they gave: { $reason }
    .outro = If you did not expect this, contact the support of { $site } and review your account.

passkey-removed =
    .subject = A passkey was removed
    .intro = A passkey was just removed from your account at { $product }.
    .outro = If this was not you, reset your password at once ("forgot password" at { $site }).

identity-linked =
    .subject = { $provider } login linked
    .intro-with-address = Logging in with your { $provider } account ({ $address }) now logs in to your account at { $product }.
    .intro = Logging in with a { $provider } account now logs in to your account at { $product }.
    .outro = If this was not you, reset your password at once ("forgot password" at { $site }) and remove the { $provider } login in your account settings.

sso-idp-changed =
    .subject = Your organization's single sign-on now trusts another identity provider
    .intro = A single sign-on connection of your organization "{ $org }" at { $product } (connection { $connection }) was just changed to trust another identity provider, or other keys of its identity provider.
    .now = It now trusts the identity provider that names itself { $idp }, by the keys { $keys }. People it logged in before log in through it afresh: no login it linked carries over to another identity provider.
    .outro = If you did not expect this change, review the organization's single sign-on connections and its audit trail at once, and remove the connection if it is not yours.

identity-unlinked =
    .subject = { $provider } login unlinked
    .intro = Logging in with your { $provider } account no longer logs in to your account at { $product }.
    .outro = If this was not you, reset your password at once ("forgot password" at { $site }).

test-message =
    .subject = { $product }: test message
    .intro = This is a test message from the gatehouse at { $site }.
    .outro = If you can read it, email delivery works.

## Pages

page-continue-to = Continue to { $app }
page-continue = Continue

page-activated =
    .title = Your account is active
    .body = Thank you: { $email } is confirmed and the account is ready. You can log in now.

page-reset-form =
    .title = Choose a new password
    .label = New password (at least 8 characters)
    .button = Set new password

page-reset-done =
    .title = Your password has been changed
    .body = You can log in with the new password now. Every session that used the old one has ended.

page-email-login =
    .title = Log in
    .body = You asked for a login link. Press the button to log in on this device.
    .button = Log in

page-email-confirmed =
    .title = Your email address has changed
    .body = { $email } is now the address of your account. Your old address has been told.

page-revert-form =
    .title = Undo the email change
    .body = If you did not change the email address of your account, restore the old one here. Every session will be logged out; then reset your password.
    .button = Restore my old address and log out everywhere

page-revert-done =
    .title = Your old email address is back
    .body = { $email } is the address of your account again and every session has been logged out. Reset your password now if someone else knew it.

page-login =
    .title = Log in
    .login = Email or username
    .password = Password
    .button = Log in
    .continue = Continue
    .passkey = Log in with a passkey
    .provider = Continue with { $provider }
    .email-label = Or get a link by email
    .email-button = Email me a link
    .missing = Enter your email address or username and your password.
    .failed = The login did not work. Try again, or use another way in.

page-sso-continue =
    .title = Log in with your organization
    .body = Your organization logs you in through its own login page.
    .link = Continue

page-link-identity =
    .title = Link { $provider }?
    .body = This links a { $provider } login to the account { $email }: whoever logs in with that { $provider } account will get into this one.
    .warning = Go on only if { $email } is your account and you asked for this yourself. If someone sent you this link, close this page.
    .button = Link { $provider } to { $email }
    .decline = Not yours? Close this page: nothing is linked.

page-link-sent =
    .title = Check your email
    .body = If an account has this address, a login link is on its way. Open it in this browser.
    .code = Or type the code from the email
    .button = Log in

page-second-factor =
    .title = Second factor
    .passkey = Use your passkey
    .code = The code from your authenticator app, or a recovery code
    .button = Continue

page-signed-in =
    .title = Logged in
    .body = You are logged in as { $who }.
    .button = Log out

page-signed-out =
    .title = Logged out
    .body = You are logged out of every app that used this login.

page-consent =
    .title = Allow access?
    .intro = { $client } asks to use your account:
    .allow = Allow
    .deny = Deny
    .unverified = { $client } registered itself here: nobody has checked who made it. The answer goes to { $app }; allow it only if that is where you started.

scope-openid = know who you are (your account id)
scope-profile = see your name and username
scope-email = see your email address
scope-offline_access = stay signed in while you are away
scope-app_data = see the data administrators keep on your account (plan, roles)
scope-org = know the organization you work in here, your role and permissions there
scope-org-named = know that you work in { $org } here, your role and permissions there
scope-resource = use { $app } as you

page-device =
    .title = Connect a device
    .intro = Enter the code your device shows.
    .code = Code
    .continue = Continue
    .unknown = That code is not valid, has expired or has been answered already. Check the code your device shows, or start again there.

page-device-approve =
    .title = Connect this device?
    .intro = { $client } on another device asks to use your account:
    .check = Allow it only if you started this yourself and your device shows the code { $code }.
    .who = You are logged in as { $who }; the device gets access to this account.
    .allow = Allow
    .deny = Deny

page-device-done =
    .approved-title = Device connected
    .approved = You can go back to your device: it is signed in.
    .denied-title = Request denied
    .denied = The device was not let in.

page-oauth-refused =
    .title = This sign-in request is not valid

page-logout =
    .title = Log out
    .body = Log out of every app that uses this login?
    .button = Log out

page-form-expired =
    .title = This form has expired
    .body = This form was opened in another browser, more than a day ago, or posted from another site, so it cannot be trusted. Open the page again (a script: GET the page first, keep its cookie, and post its hidden form field with an Origin header of this site).
    .login = Log in

## Pages for a link that cannot be used

link-expired =
    .title = This link has expired
    .detail = Links expire after a while; start again.
link-invalid =
    .title = This link is not valid
    .detail = The link is incomplete, unknown or already used.
link-address-taken =
    .title = This address is taken
    .detail = Another account uses this address by now, so the change cannot be made.
activation-link-expired =
    .title = This link has expired
    .detail = Activation links expire. Ask for a new one from the app, and use the newest email.
activation-link-invalid =
    .title = This link is not valid
    .detail = The link is incomplete or unknown. Copy the whole link from the newest email.
reset-link-expired =
    .title = This link has expired
    .detail = Password-reset links expire after a while. Ask for a new one and use the newest email.
login-link-expired =
    .title = This link has expired
    .detail = Login links work for 10 minutes, and a newer request ends the older link. Ask for a new one and use the newest email.
login-link-invalid =
    .title = This link is not valid
    .detail = The link is incomplete, unknown or already used. Ask for a new one and use the newest email.
login-by-email-off =
    .title = Login by email is off
    .detail = This site no longer logs in by emailed links. Log in with your password.
account-disabled =
    .title = This account is disabled
    .detail = An administrator has disabled this account.
signup-closed =
    .title = Sign-up is closed
    .detail = This site no longer creates accounts by email. Ask an administrator for one.
form-from-elsewhere =
    .title = This form was sent from another site
    .detail = Open the link from the email again and press the button on that page.
second-factor-first =
    .title = Set up a second factor first
    .detail = This account must set up a second factor before it can log in to other apps: do that on your account page first.

## Why a login form was refused, by the API's problem code; a code not listed here shows the
## API's own English detail.

problem-invalid_credentials = Wrong email, username or password.
problem-account_not_activated = Confirm your email address first: follow the link in the email you were sent.
problem-account_disabled = This account is disabled.
problem-rate_limited = Too many attempts. Wait a moment and try again.
problem-invalid_code = That code is wrong or was used already. Try again.
problem-mfa_token_invalid = This login has run out of time. Start again.
problem-token_invalid = This login has run out of time. Start again.
problem-token_expired = This login has run out of time. Start again.
problem-webauthn_failed = The passkey could not be used. Try again, or use another way in.
problem-passwordless_disabled = Login by email is off here. Log in with your password.
problem-signup_disabled = Sign-up is closed here. Ask an administrator for an account.
problem-validation_failed = Check what you entered and try again.
problem-oidc_state_invalid = That login took too long or was started in another browser. Start again.
problem-handoff_invalid = This login was started in another browser. Start it again here.
problem-oidc_failed = The other site's login did not work. Try again, or use another way in.
problem-provider_unavailable = The other site cannot be reached right now. Try again later, or use another way in.
problem-provider_email_missing = The other site did not tell us your email address, so no account can be made with it.
problem-identity_taken = That login already belongs to another account.
