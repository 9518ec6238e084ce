# Die Texte von gatehouse auf Deutsch: jede E-Mail und jede Seite. Die anderen Sprachen haben
# dieselben Nachrichten; fehlt eine irgendwo, schlägt ein Test fehl.
#
# Jede Nachricht kann { $product } (GATEHOUSE_PRODUCT_NAME) und { $site } (die Adresse, unter
# der gatehouse erreichbar ist) verwenden. Eine Nachricht ersetzen: in GATEHOUSE_TEMPLATES_DIR/de.ftl.

## Gültigkeitsdauer: „läuft in { $valid } ab“

duration-days = { $n ->
    [one] 1 Tag
   *[other] { $n } Tage
}
duration-hours = { $n ->
    [one] 1 Stunde
   *[other] { $n } Stunden
}
duration-minutes = { $n ->
    [one] 1 Minute
   *[other] { $n } Minuten
}
duration-seconds = { $n ->
    [one] 1 Sekunde
   *[other] { $n } Sekunden
}

## E-Mails. Jede hat einen Betreff, ihre Absätze und, wenn sie einen Link enthält, eine
## Schaltfläche. Im Textteil stehen der Link (und ein Code) jeweils in einer eigenen Zeile.

email-footer = { $product } · { $site }

activation =
    .subject = Bestätigen Sie Ihre E-Mail-Adresse
    .intro = Willkommen bei { $product }! Um Ihr Konto zu aktivieren, öffnen Sie diesen Link:
    .button = Konto aktivieren
    .outro = Der Link funktioniert einmal und ist { $valid } lang gültig. Wenn Sie sich nicht registriert haben, ignorieren Sie diese E-Mail; es wird kein Konto aktiviert.

activation-unlinking =
    .intro = Um Ihr Konto bei { $product } zu aktivieren, öffnen Sie diesen Link:
    .provider = Dieses Konto wurde mit einer Anmeldung über ein { $provider }-Konto angelegt. Wenn Sie es über diesen Link aktivieren, wird diese { $provider }-Anmeldung entfernt, da nichts zeigt, dass sie Ihnen gehört. Wenn sie Ihnen gehört, melden Sie sich an und verknüpfen Sie sie auf Ihrer Kontoseite erneut.

activation-through =
    .subject = Bestätigen Sie Ihre E-Mail-Adresse
    .intro-with-address = Soeben wurde bei { $product } mit dieser Adresse ein Konto angelegt, durch eine Anmeldung mit dem { $provider }-Konto { $address }.
    .intro = Soeben wurde bei { $product } mit dieser Adresse ein Konto angelegt, durch eine Anmeldung mit einem { $provider }-Konto.
    .confirm = Wenn Sie das waren, bestätigen Sie Ihre Adresse: Der Link funktioniert einmal und ist { $valid } lang gültig. Danach kann sich dieses { $provider }-Konto bei Ihrem Konto anmelden.
    .button = Adresse bestätigen
    .outro = Wenn Sie es nicht waren, ignorieren Sie diese E-Mail: Das Konto bleibt inaktiv. Sie können sich weiterhin selbst registrieren oder „Passwort vergessen“ verwenden; das hebt die Verknüpfung mit dieser Anmeldung auf.

password-reset =
    .subject = Setzen Sie Ihr Passwort zurück
    .intro = Jemand hat angefordert, das Passwort Ihres Kontos bei { $product } zurückzusetzen. Um ein neues Passwort zu wählen, öffnen Sie diesen Link:
    .button = Neues Passwort wählen
    .outro = Der Link funktioniert einmal und ist { $valid } lang gültig. Wenn Sie es nicht waren, ignorieren Sie diese E-Mail; Ihr Passwort bleibt unverändert.

email-login =
    .subject = Ihr Anmeldelink
    .intro = Jemand möchte sich bei Ihrem Konto bei { $product } anmelden. Um sich anzumelden, öffnen Sie diesen Link:
    .button = Anmelden
    .code = Oder geben Sie diesen Code dort ein, wo Sie ihn angefordert haben:
    .outro = Link und Code funktionieren einmal, gemeinsam, und sind { $valid } lang gültig. Wenn Sie es nicht waren, ignorieren Sie diese E-Mail; ohne sie geschieht nichts.

email-signup =
    .subject = Ihr Registrierungslink
    .intro = Jemand möchte sich mit dieser Adresse bei { $product } registrieren. Um Ihr Konto anzulegen und sich anzumelden, öffnen Sie diesen Link:
    .button = Konto anlegen und anmelden
    .code = Oder geben Sie diesen Code dort ein, wo Sie ihn angefordert haben:
    .outro = Link und Code funktionieren einmal, gemeinsam, und sind { $valid } lang gültig. Wenn Sie es nicht waren, ignorieren Sie diese E-Mail; ohne sie geschieht nichts.

password-changed =
    .subject = Ihr Passwort wurde geändert
    .intro = Das Passwort Ihres Kontos bei { $product } wurde soeben geändert. Ihre anderen Sitzungen wurden abgemeldet.
    .outro = Wenn Sie das waren, ist nichts weiter zu tun. Wenn nicht, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }) und prüfen Sie Ihr Konto.

password-reset-notice =
    .subject = Ihr Passwort wurde geändert
    .intro = Das Passwort Ihres Kontos bei { $product } wurde soeben über einen Link zurückgesetzt, der an diese Adresse geschickt wurde. Ihre anderen Sitzungen wurden abgemeldet.
    .outro = Wenn Sie das waren, ist nichts weiter zu tun. Wenn nicht, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }) und prüfen Sie Ihr Konto.

email-change =
    .subject = Bestätigen Sie Ihre neue E-Mail-Adresse
    .intro = Jemand möchte diese Adresse für sein Konto bei { $product } verwenden. Um die Änderung zu bestätigen, öffnen Sie diesen Link:
    .button = Neue Adresse bestätigen
    .outro = Der Link funktioniert einmal und ist { $valid } lang gültig. Wenn Sie es nicht waren, ignorieren Sie diese E-Mail; es ändert sich nichts.

email-changed =
    .subject = Ihre E-Mail-Adresse wurde geändert
    .intro = Die E-Mail-Adresse Ihres Kontos bei { $product } wurde soeben in { $address } geändert. Wenn Sie das waren, ist nichts weiter zu tun.
    .undo = Wenn nicht, öffnen Sie diesen Link, um diese Adresse wiederherzustellen und alle Sitzungen abzumelden:
    .button = Änderung rückgängig machen
    .outro = Der Link funktioniert einmal und ist { $valid } lang gültig.

invitation =
    .subject = Einladung zu { $org } bei { $product }
    .intro = Sie wurden eingeladen, der Organisation { $org } bei { $product } mit der Rolle { $role } beizutreten. Um anzunehmen, öffnen Sie diesen Link und melden Sie sich mit dieser E-Mail-Adresse an oder registrieren Sie sich:
    .button = Einladung annehmen
    .outro = Der Link ist { $valid } lang gültig. Wenn Sie diese Organisation nicht kennen, ignorieren Sie diese E-Mail; es geschieht nichts.

signup-attempt =
    .subject = Jemand wollte sich mit Ihrer Adresse registrieren
    .intro = Soeben wollte jemand bei { $product } ein Konto mit dieser E-Mail-Adresse anlegen, doch zu ihr gibt es bereits eines.
    .outro = Wenn Sie das waren, melden Sie sich stattdessen an, oder verwenden Sie dort „Passwort vergessen“, falls Sie Ihr Passwort nicht mehr wissen. Wenn nicht, ignorieren Sie diese E-Mail; es hat sich nichts geändert.

mfa-enabled =
    .subject = Die Zwei-Faktor-Anmeldung ist aktiv
    .intro = Ihrem Konto bei { $product } wurde soeben eine Authenticator-App hinzugefügt: Zur Anmeldung ist nun nach dem Passwort ein Code aus dieser App nötig.
    .keep = Bewahren Sie Ihre Wiederherstellungscodes sicher auf; jeder funktioniert einmal, falls die App verloren geht.
    .outro = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }) und bitten Sie einen Administrator, die Authenticator-App zu entfernen.

mfa-disabled =
    .subject = Die Zwei-Faktor-Anmeldung ist aus
    .intro = Authenticator-App und Wiederherstellungscodes Ihres Kontos bei { $product } wurden soeben aus einer Sitzung Ihres Kontos entfernt: Zur Anmeldung genügt nun das Passwort.
    .intro-by-admin = Authenticator-App und Wiederherstellungscodes Ihres Kontos bei { $product } wurden soeben von einem Administrator entfernt: Zur Anmeldung genügt nun das Passwort.
    .outro = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }) und schalten Sie die Zwei-Faktor-Anmeldung wieder ein.

recovery-code-used =
    .subject = Ein Wiederherstellungscode wurde verwendet
    .intro = Soeben wurde mit einem Wiederherstellungscode eine Anmeldung bei Ihrem Konto bei { $product } durchgeführt. { $left ->
        [0] Es ist keiner mehr übrig: Erzeugen Sie jetzt in Ihren Kontoeinstellungen neue.
        [one] Es ist noch 1 übrig; erzeugen Sie bald in Ihren Kontoeinstellungen neue.
       *[other] Es sind noch { $left } übrig.
    }
    .outro = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }) und erzeugen Sie neue Wiederherstellungscodes.

passkey-added =
    .subject = Ein Passkey wurde hinzugefügt
    .intro = Ihrem Konto bei { $product } wurde soeben ein Passkey namens „{ $name }“ hinzugefügt; er meldet ohne Passwort an und dient als zweiter Faktor.
    .outro = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }) und entfernen Sie den Passkey in Ihren Kontoeinstellungen.

impersonation-notice =
    .subject = Ein Administrator hat Ihr Konto geöffnet
    .intro = Ein Administrator von { $product } handelt in Ihrem Namen, um Ihr Konto so zu sehen, wie Sie es sehen. Er kann weder Ihr Passwort noch Ihre zweiten Faktoren oder Ihre Adresse ändern, und sein Zugang endet innerhalb von 15 Minuten.
    .reason = Der angegebene Grund: { $reason }
    .outro = Wenn Sie das nicht erwartet haben, wenden Sie sich an den Support von { $site } und prüfen Sie Ihr Konto.

passkey-removed =
    .subject = Ein Passkey wurde entfernt
    .intro = Soeben wurde ein Passkey von Ihrem Konto bei { $product } entfernt.
    .outro = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }).

identity-linked =
    .subject = Anmeldung mit { $provider } verknüpft
    .intro-with-address = Eine Anmeldung mit Ihrem { $provider }-Konto ({ $address }) meldet Sie nun bei Ihrem Konto bei { $product } an.
    .intro = Eine Anmeldung mit einem { $provider }-Konto meldet Sie nun bei Ihrem Konto bei { $product } an.
    .outro = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }) und entfernen Sie die { $provider }-Anmeldung in Ihren Kontoeinstellungen.

sso-idp-changed =
    .subject = Die Single-Sign-on-Anmeldung Ihrer Organisation vertraut jetzt einem anderen Identitätsanbieter
    .intro = Eine Single-Sign-on-Verbindung Ihrer Organisation „{ $org }“ bei { $product } (Verbindung { $connection }) wurde soeben so geändert, dass sie einem anderen Identitätsanbieter oder anderen Schlüsseln ihres Identitätsanbieters vertraut.
    .now = Sie vertraut jetzt dem Identitätsanbieter, der sich { $idp } nennt, mit den Schlüsseln { $keys }. Wer sich bisher über sie angemeldet hat, meldet sich neu an: Keine Anmeldung, die sie verknüpft hat, geht auf einen anderen Identitätsanbieter über.
    .outro = Wenn Sie diese Änderung nicht erwartet haben, prüfen Sie sofort die Single-Sign-on-Verbindungen und das Protokoll der Organisation, und entfernen Sie die Verbindung, wenn sie nicht Ihre ist.

identity-unlinked =
    .subject = Anmeldung mit { $provider } getrennt
    .intro = Eine Anmeldung mit Ihrem { $provider }-Konto meldet Sie nicht mehr bei Ihrem Konto bei { $product } an.
    .outro = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück („Passwort vergessen“ auf { $site }).

test-message =
    .subject = { $product }: Testnachricht
    .intro = Dies ist eine Testnachricht des gatehouse unter { $site }.
    .outro = Wenn Sie sie lesen können, funktioniert der E-Mail-Versand.

## Seiten

page-continue-to = Weiter zu { $app }
page-continue = Weiter

page-activated =
    .title = Ihr Konto ist aktiv
    .body = Danke: { $email } ist bestätigt und das Konto ist bereit. Sie können sich jetzt anmelden.

page-reset-form =
    .title = Neues Passwort wählen
    .label = Neues Passwort (mindestens 8 Zeichen)
    .button = Neues Passwort speichern

page-reset-done =
    .title = Ihr Passwort wurde geändert
    .body = Sie können sich jetzt mit dem neuen Passwort anmelden. Alle Sitzungen mit dem alten Passwort wurden beendet.

page-email-login =
    .title = Anmelden
    .body = Sie haben einen Anmeldelink angefordert. Klicken Sie auf die Schaltfläche, um sich auf diesem Gerät anzumelden.
    .button = Anmelden

page-email-confirmed =
    .title = Ihre E-Mail-Adresse wurde geändert
    .body = { $email } ist jetzt die Adresse Ihres Kontos. Ihre alte Adresse wurde benachrichtigt.

page-revert-form =
    .title = E-Mail-Änderung rückgängig machen
    .body = Wenn Sie die E-Mail-Adresse Ihres Kontos nicht geändert haben, stellen Sie hier die alte wieder her. Alle Sitzungen werden abgemeldet; setzen Sie danach Ihr Passwort zurück.
    .button = Alte Adresse wiederherstellen und überall abmelden

page-revert-done =
    .title = Ihre alte E-Mail-Adresse ist zurück
    .body = { $email } ist wieder die Adresse Ihres Kontos, und alle Sitzungen wurden abgemeldet. Setzen Sie jetzt Ihr Passwort zurück, falls jemand anderes es kannte.

page-login =
    .title = Anmelden
    .login = E-Mail-Adresse oder Benutzername
    .password = Passwort
    .button = Anmelden
    .continue = Weiter
    .passkey = Mit einem Passkey anmelden
    .provider = Weiter mit { $provider }
    .email-label = Oder einen Link per E-Mail erhalten
    .email-button = Link per E-Mail senden
    .missing = Geben Sie Ihre E-Mail-Adresse oder Ihren Benutzernamen und Ihr Passwort ein.
    .failed = Die Anmeldung hat nicht geklappt. Versuchen Sie es erneut oder wählen Sie einen anderen Weg.

page-sso-continue =
    .title = Mit Ihrer Organisation anmelden
    .body = Ihre Organisation meldet Sie über ihre eigene Anmeldeseite an.
    .link = Weiter

page-link-identity =
    .title = { $provider } verknüpfen?
    .body = Damit wird eine { $provider }-Anmeldung mit dem Konto { $email } verknüpft: Wer sich mit diesem { $provider }-Konto anmeldet, gelangt in dieses Konto.
    .warning = Fahren Sie nur fort, wenn { $email } Ihr Konto ist und Sie dies selbst angefordert haben. Wenn Ihnen jemand diesen Link geschickt hat, schließen Sie diese Seite.
    .button = { $provider } mit { $email } verknüpfen
    .decline = Nicht Ihres? Schließen Sie diese Seite: Es wird nichts verknüpft.

page-link-sent =
    .title = Sehen Sie in Ihr Postfach
    .body = Wenn es ein Konto mit dieser Adresse gibt, ist ein Anmeldelink unterwegs. Öffnen Sie ihn in diesem Browser.
    .code = Oder geben Sie den Code aus der E-Mail ein
    .button = Anmelden

page-second-factor =
    .title = Zweiter Faktor
    .passkey = Passkey verwenden
    .code = Der Code aus Ihrer Authenticator-App oder ein Wiederherstellungscode
    .button = Weiter

page-signed-in =
    .title = Angemeldet
    .body = Sie sind angemeldet als { $who }.
    .button = Abmelden

page-signed-out =
    .title = Abgemeldet
    .body = Sie sind von allen Apps abgemeldet, die diese Anmeldung verwendet haben.

page-consent =
    .title = Zugriff erlauben?
    .intro = { $client } möchte Ihr Konto verwenden, um:
    .allow = Erlauben
    .deny = Ablehnen
    .unverified = { $client } hat sich hier selbst registriert: Niemand hat geprüft, wer es gemacht hat. Die Antwort geht an { $app }; erlauben Sie es nur, wenn Sie dort begonnen haben.

scope-openid = zu erfahren, wer Sie sind (Ihre Konto-ID)
scope-profile = Ihren Namen und Benutzernamen zu sehen
scope-email = Ihre E-Mail-Adresse zu sehen
scope-offline_access = angemeldet zu bleiben, während Sie nicht da sind
scope-app_data = die Daten zu sehen, die Administratoren zu Ihrem Konto führen (Tarif, Rollen)
scope-org = die Organisation kennen, in der Sie hier arbeiten, und Ihre Rolle und Berechtigungen dort
scope-org-named = wissen, dass Sie hier in { $org } arbeiten, und Ihre Rolle und Berechtigungen dort
scope-resource = { $app } in Ihrem Namen verwenden

page-device =
    .title = Gerät verbinden
    .intro = Geben Sie den Code ein, den Ihr Gerät anzeigt.
    .code = Code
    .continue = Weiter
    .unknown = Dieser Code ist ungültig, abgelaufen oder wurde bereits beantwortet. Prüfen Sie den Code auf Ihrem Gerät oder beginnen Sie dort neu.

page-device-approve =
    .title = Dieses Gerät verbinden?
    .intro = { $client } auf einem anderen Gerät möchte Ihr Konto verwenden, um:
    .check = Erlauben Sie es nur, wenn Sie dies selbst begonnen haben und Ihr Gerät den Code { $code } anzeigt.
    .who = Sie sind als { $who } angemeldet; das Gerät erhält Zugriff auf dieses Konto.
    .allow = Erlauben
    .deny = Ablehnen

page-device-done =
    .approved-title = Gerät verbunden
    .approved = Sie können zu Ihrem Gerät zurückkehren: Es ist angemeldet.
    .denied-title = Anfrage abgelehnt
    .denied = Das Gerät wurde nicht zugelassen.

page-oauth-refused =
    .title = Diese Anmeldeanfrage ist ungültig

page-logout =
    .title = Abmelden
    .body = Von allen Apps abmelden, die diese Anmeldung verwenden?
    .button = Abmelden

page-form-expired =
    .title = Dieses Formular ist abgelaufen
    .body = Dieses Formular wurde in einem anderen Browser oder vor mehr als einem Tag geöffnet oder von einer anderen Website abgeschickt, daher kann ihm nicht vertraut werden. Öffnen Sie die Seite erneut.
    .login = Anmelden

## Seiten zu einem Link, der nicht verwendet werden kann

link-expired =
    .title = Dieser Link ist abgelaufen
    .detail = Links laufen nach einiger Zeit ab; beginnen Sie von vorn.
link-invalid =
    .title = Dieser Link ist ungültig
    .detail = Der Link ist unvollständig, unbekannt oder wurde bereits verwendet.
link-address-taken =
    .title = Diese Adresse ist vergeben
    .detail = Ein anderes Konto verwendet diese Adresse inzwischen, daher kann die Änderung nicht durchgeführt werden.
activation-link-expired =
    .title = Dieser Link ist abgelaufen
    .detail = Aktivierungslinks laufen ab. Fordern Sie in der App einen neuen an und verwenden Sie die neueste E-Mail.
activation-link-invalid =
    .title = Dieser Link ist ungültig
    .detail = Der Link ist unvollständig oder unbekannt. Kopieren Sie den ganzen Link aus der neuesten E-Mail.
reset-link-expired =
    .title = Dieser Link ist abgelaufen
    .detail = Links zum Zurücksetzen des Passworts laufen nach einiger Zeit ab. Fordern Sie einen neuen an und verwenden Sie die neueste E-Mail.
login-link-expired =
    .title = Dieser Link ist abgelaufen
    .detail = Anmeldelinks funktionieren 10 Minuten lang, und eine neuere Anforderung beendet den älteren Link. Fordern Sie einen neuen an und verwenden Sie die neueste E-Mail.
login-link-invalid =
    .title = Dieser Link ist ungültig
    .detail = Der Link ist unvollständig, unbekannt oder wurde bereits verwendet. Fordern Sie einen neuen an und verwenden Sie die neueste E-Mail.
login-by-email-off =
    .title = Die Anmeldung per E-Mail ist ausgeschaltet
    .detail = Diese Website meldet nicht mehr über E-Mail-Links an. Melden Sie sich mit Ihrem Passwort an.
account-disabled =
    .title = Dieses Konto ist gesperrt
    .detail = Ein Administrator hat dieses Konto gesperrt.
signup-closed =
    .title = Die Registrierung ist geschlossen
    .detail = Diese Website legt keine Konten per E-Mail mehr an. Bitten Sie einen Administrator um eines.
form-from-elsewhere =
    .title = Dieses Formular wurde von einer anderen Website gesendet
    .detail = Öffnen Sie den Link aus der E-Mail erneut und klicken Sie auf die Schaltfläche auf jener Seite.
second-factor-first =
    .title = Richten Sie zuerst einen zweiten Faktor ein
    .detail = Dieses Konto muss einen zweiten Faktor einrichten, bevor es sich bei anderen Apps anmelden kann: Tun Sie das zuerst auf Ihrer Kontoseite.

## Warum ein Anmeldeformular abgelehnt wurde, nach dem Problemcode der API; ein hier nicht
## aufgeführter Code zeigt die englische Erklärung der API.

problem-invalid_credentials = E-Mail-Adresse, Benutzername oder Passwort ist falsch.
problem-account_not_activated = Bestätigen Sie zuerst Ihre E-Mail-Adresse: Folgen Sie dem Link in der E-Mail, die Sie erhalten haben.
problem-account_disabled = Dieses Konto ist gesperrt.
problem-rate_limited = Zu viele Versuche. Warten Sie einen Moment und versuchen Sie es dann erneut.
problem-invalid_code = Dieser Code ist falsch oder wurde bereits verwendet. Versuchen Sie es erneut.
problem-mfa_token_invalid = Die Zeit für diese Anmeldung ist abgelaufen. Beginnen Sie von vorn.
problem-token_invalid = Die Zeit für diese Anmeldung ist abgelaufen. Beginnen Sie von vorn.
problem-token_expired = Die Zeit für diese Anmeldung ist abgelaufen. Beginnen Sie von vorn.
problem-webauthn_failed = Der Passkey konnte nicht verwendet werden. Versuchen Sie es erneut oder melden Sie sich anders an.
problem-passwordless_disabled = Die Anmeldung per E-Mail ist hier ausgeschaltet. Melden Sie sich mit Ihrem Passwort an.
problem-signup_disabled = Die Registrierung ist hier geschlossen. Bitten Sie einen Administrator um ein Konto.
problem-validation_failed = Prüfen Sie Ihre Eingaben und versuchen Sie es erneut.
problem-oidc_state_invalid = Diese Anmeldung hat zu lange gedauert oder wurde in einem anderen Browser begonnen. Beginnen Sie von vorn.
problem-handoff_invalid = Diese Anmeldung wurde in einem anderen Browser begonnen. Beginnen Sie sie hier erneut.
problem-oidc_failed = Die Anmeldung bei der anderen Website hat nicht funktioniert. Versuchen Sie es erneut oder melden Sie sich anders an.
problem-provider_unavailable = Die andere Website ist gerade nicht erreichbar. Versuchen Sie es später erneut oder melden Sie sich anders an.
problem-provider_email_missing = Die andere Website hat uns Ihre E-Mail-Adresse nicht mitgeteilt, daher kann damit kein Konto angelegt werden.
problem-identity_taken = Diese Anmeldung gehört bereits zu einem anderen Konto.
