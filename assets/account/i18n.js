// The account page in the account's language: English, German, French or Spanish. Texts are
// keyed by their English words; what a language lacks stays English. The page's own words
// (headings, labels, buttons) are translated where they stand, and account.js passes what it
// writes through `t`. Messages that come from the server (a problem's detail) stay as sent.
'use strict';

window.gatehouseI18n = (() => {
  /** Each language, named in itself. */
  const LANGUAGES = { en: 'English', de: 'Deutsch', fr: 'Français', es: 'Español' };

  const TEXTS = {
    de: {
      'Your account': 'Ihr Konto',
      'Logged in as': 'Angemeldet als',
      'Log out': 'Abmelden',
      'Log in': 'Anmelden',
      'Email or username': 'E-Mail-Adresse oder Benutzername',
      Password: 'Passwort',
      or: 'oder',
      'Log in with a passkey': 'Mit einem Passkey anmelden',
      'Email me a link': 'Link per E-Mail senden',
      'Code from the email': 'Code aus der E-Mail',
      Back: 'Zurück',
      'Code from your authenticator app, or a recovery code': 'Code aus Ihrer Authenticator-App oder ein Wiederherstellungscode',
      Continue: 'Weiter',
      'Use a passkey': 'Passkey verwenden',
      'Confirm it is you': 'Bestätigen Sie, dass Sie es sind',
      'This change needs a fresh confirmation.': 'Diese Änderung braucht eine neue Bestätigung.',
      'Cancelled: that change was not made.': 'Abgebrochen: Diese Änderung wurde nicht vorgenommen.',
      Confirm: 'Bestätigen',
      Cancel: 'Abbrechen',
      'Your recovery codes': 'Ihre Wiederherstellungscodes',
      'Each logs you in once if you lose your authenticator. Keep them somewhere safe: they are shown this once.':
        'Jeder meldet Sie einmal an, falls Sie Ihre Authenticator-App verlieren. Bewahren Sie sie sicher auf: Sie werden nur dieses eine Mal angezeigt.',
      'I have saved them': 'Ich habe sie gespeichert',
      'Authenticator app': 'Authenticator-App',
      'Set up an authenticator app': 'Authenticator-App einrichten',
      'Turn off': 'Ausschalten',
      'New recovery codes': 'Neue Wiederherstellungscodes',
      'Your password, to begin': 'Ihr Passwort, um zu beginnen',
      'Scan this code with your authenticator app, or type the key into it.':
        'Scannen Sie diesen Code mit Ihrer Authenticator-App oder geben Sie den Schlüssel dort ein.',
      'QR code of the key for your authenticator app': 'QR-Code des Schlüssels für Ihre Authenticator-App',
      'Key:': 'Schlüssel:',
      'The six-digit code the app shows': 'Der sechsstellige Code, den die App anzeigt',
      'Turn on': 'Einschalten',
      'A code from the app, to turn it off': 'Ein Code aus der App, um sie auszuschalten',
      Passkeys: 'Passkeys',
      'A passkey logs you in without a password, and counts as a second factor.':
        'Ein Passkey meldet Sie ohne Passwort an und zählt als zweiter Faktor.',
      Name: 'Name',
      Added: 'Hinzugefügt',
      'Last used': 'Zuletzt verwendet',
      Synced: 'Synchronisiert',
      'e.g. my laptop': 'z. B. mein Laptop',
      'Add a passkey': 'Passkey hinzufügen',
      'Linked logins': 'Verknüpfte Anmeldungen',
      'Each logs in to this account through another site.': 'Jede meldet über eine andere Website bei diesem Konto an.',
      Through: 'Über',
      'Address there': 'Adresse dort',
      Linked: 'Verknüpft',
      Sessions: 'Sitzungen',
      Started: 'Begonnen',
      IP: 'IP',
      'Browser or app': 'Browser oder App',
      Language: 'Sprache',
      'The language of this page and of your emails.': 'Die Sprache dieser Seite und Ihrer E-Mails.',
      'Automatic (this browser’s)': 'Automatisch (die dieses Browsers)',
      'Save': 'Speichern',
      'Your language is saved.': 'Ihre Sprache ist gespeichert.',
      'You are logged out.': 'Sie sind abgemeldet.',
      you: 'Sie',
      'Your account needs a second factor: set up an authenticator app or add a passkey to go on.':
        'Ihr Konto braucht einen zweiten Faktor: Richten Sie eine Authenticator-App ein oder fügen Sie einen Passkey hinzu, um fortzufahren.',
      'Type your password or a code, or use a passkey.': 'Geben Sie Ihr Passwort oder einen Code ein, oder verwenden Sie einen Passkey.',
      'On. {count} recovery codes left.': 'Ein. Noch {count} Wiederherstellungscodes.',
      'On. 1 recovery code left.': 'Ein. Noch 1 Wiederherstellungscode.',
      'Off.': 'Aus.',
      'Your authenticator app is on: logins ask for its code after the password.':
        'Ihre Authenticator-App ist eingeschaltet: Bei der Anmeldung wird nach dem Passwort ihr Code abgefragt.',
      'Your authenticator app is off.': 'Ihre Authenticator-App ist ausgeschaltet.',
      'New recovery codes replace all the ones you have now. Go on?':
        'Neue Wiederherstellungscodes ersetzen alle, die Sie jetzt haben. Fortfahren?',
      'Your passkeys show once you have a second factor.': 'Ihre Passkeys erscheinen, sobald Sie einen zweiten Faktor haben.',
      'No passkeys yet.': 'Noch keine Passkeys.',
      Remove: 'Entfernen',
      'This browser cannot create passkeys.': 'Dieser Browser kann keine Passkeys erstellen.',
      'Passkey "{name}" added: you can log in with it, without a password.':
        'Passkey „{name}“ hinzugefügt: Sie können sich damit ohne Passwort anmelden.',
      'Remove the passkey "{name}"?': 'Den Passkey „{name}“ entfernen?',
      'Passkey "{name}" removed.': 'Passkey „{name}“ entfernt.',
      'Continue with {provider}': 'Weiter mit {provider}',
      'No linked logins yet.': 'Noch keine verknüpften Anmeldungen.',
      'Link {provider}': '{provider} verknüpfen',
      Unlink: 'Trennen',
      'Unlink your {provider} login?': 'Ihre Anmeldung mit {provider} trennen?',
      'Your {provider} login is unlinked.': 'Ihre Anmeldung mit {provider} ist getrennt.',
      'this one': 'diese',
      End: 'Beenden',
      'The session has ended: its tokens no longer work.': 'Die Sitzung ist beendet: Ihre Tokens funktionieren nicht mehr.',
      'That login took too long or was started in another browser. Start again.':
        'Diese Anmeldung hat zu lange gedauert oder wurde in einem anderen Browser begonnen. Beginnen Sie von vorn.',
      'The other site’s login did not work. Try again, or use another way in.':
        'Die Anmeldung bei der anderen Website hat nicht funktioniert. Versuchen Sie es erneut oder melden Sie sich anders an.',
      'The other site cannot be reached right now. Try again later, or use another way in.':
        'Die andere Website ist gerade nicht erreichbar. Versuchen Sie es später erneut oder melden Sie sich anders an.',
      'The other site did not tell us your email address, so no account can be made with it.':
        'Die andere Website hat uns Ihre E-Mail-Adresse nicht mitgeteilt, daher kann damit kein Konto angelegt werden.',
      'That login already belongs to another account.': 'Diese Anmeldung gehört bereits zu einem anderen Konto.',
      'No account is linked to this login. If you have an account here, log in another way and link it on this page.':
        'Mit dieser Anmeldung ist kein Konto verknüpft. Wenn Sie hier ein Konto haben, melden Sie sich anders an und verknüpfen Sie sie auf dieser Seite.',
      'Confirm your email address first: follow the link in the email you were sent.':
        'Bestätigen Sie zuerst Ihre E-Mail-Adresse: Folgen Sie dem Link in der E-Mail, die Sie erhalten haben.',
      'This account is disabled.': 'Dieses Konto ist gesperrt.',
      'Sign-up is closed here. Ask an administrator for an account.':
        'Die Registrierung ist hier geschlossen. Bitten Sie einen Administrator um ein Konto.',
      'Too many attempts. Wait a moment and try again.':
        'Zu viele Versuche. Warten Sie einen Moment und versuchen Sie es dann erneut.',
      'This login has run out of time. Start again.':
        'Die Zeit für diese Anmeldung ist abgelaufen. Beginnen Sie von vorn.',
      'This login was started in another browser. Start it again here.':
        'Diese Anmeldung wurde in einem anderen Browser begonnen. Beginnen Sie sie hier von vorn.',
      'Login by email is off here. Log in with your password.':
        'Die Anmeldung per E-Mail ist hier ausgeschaltet. Melden Sie sich mit Ihrem Passwort an.',
      'The login did not work. Try again, or use another way in.':
        'Die Anmeldung hat nicht geklappt. Versuchen Sie es erneut oder wählen Sie einen anderen Weg.',
      'Linked: you can now log in with {provider}.': 'Verknüpft: Sie können sich jetzt mit {provider} anmelden.',
      yes: 'ja',
      'can be': 'möglich',
      no: 'nein',
      'New here? Create an account': 'Neu hier? Konto erstellen',
      'Use the address the invitation was sent to. After you confirm it by the emailed link, log in here to accept.': 'Verwenden Sie die Adresse, an die die Einladung ging. Nachdem Sie sie über den Link in der E-Mail bestätigt haben, melden Sie sich hier an, um anzunehmen.',
      'Email': 'E-Mail-Adresse',
      'New password': 'Neues Passwort',
      'Create my account': 'Mein Konto erstellen',
      'An invitation': 'Eine Einladung',
      'You were invited to join an organization. Accept it with this account?': 'Sie wurden eingeladen, einer Organisation beizutreten. Mit diesem Konto annehmen?',
      'Accept the invitation': 'Einladung annehmen',
      'Not now': 'Nicht jetzt',
      'Organizations': 'Organisationen',
      'You belong to no organization.': 'Sie gehören keiner Organisation an.',
      'Role': 'Rolle',
      'Joined': 'Beigetreten',
      'Invitations to you': 'Einladungen an Sie',
      'Organization': 'Organisation',
      'Expires': 'Läuft ab',
      'active': 'aktiv',
      'Work in it': 'Darin arbeiten',
      'Accept': 'Annehmen',
      'You joined {org}.': 'Sie sind {org} beigetreten.',
      'You are now working in {org}.': 'Sie arbeiten jetzt in {org}.',
      'This invitation was sent to another address. Log in with that address (confirmed) to accept it.': 'Diese Einladung ging an eine andere Adresse. Melden Sie sich mit dieser (bestätigten) Adresse an, um sie anzunehmen.',
      'This invitation has expired; ask the organization for a new one.': 'Diese Einladung ist abgelaufen; bitten Sie die Organisation um eine neue.',
      'This invitation is no longer valid: it was used, revoked or replaced.': 'Diese Einladung gilt nicht mehr: Sie wurde verwendet, widerrufen oder ersetzt.',
      'The organization is full; ask its admins.': 'Die Organisation ist voll; wenden Sie sich an ihre Administratoren.',
      'Almost there: confirm your address by the link we sent to {email}, then log in here.': 'Fast geschafft: Bestätigen Sie Ihre Adresse über den Link, den wir an {email} gesendet haben, und melden Sie sich dann hier an.',
      'This invitation link is not complete; open the link from the email again.': 'Dieser Einladungslink ist unvollständig; öffnen Sie den Link aus der E-Mail erneut.',
    },
    fr: {
      'Your account': 'Votre compte',
      'Logged in as': 'Connecté en tant que',
      'Log out': 'Se déconnecter',
      'Log in': 'Se connecter',
      'Email or username': 'Adresse e-mail ou nom d’utilisateur',
      Password: 'Mot de passe',
      or: 'ou',
      'Log in with a passkey': 'Se connecter avec une clé d’accès',
      'Email me a link': 'M’envoyer un lien',
      'Code from the email': 'Code reçu par e-mail',
      Back: 'Retour',
      'Code from your authenticator app, or a recovery code': 'Code de votre application d’authentification, ou code de récupération',
      Continue: 'Continuer',
      'Use a passkey': 'Utiliser une clé d’accès',
      'Confirm it is you': 'Confirmez qu’il s’agit bien de vous',
      'This change needs a fresh confirmation.': 'Ce changement demande une nouvelle confirmation.',
      'Cancelled: that change was not made.': 'Annulé : cette modification n’a pas été faite.',
      Confirm: 'Confirmer',
      Cancel: 'Annuler',
      'Your recovery codes': 'Vos codes de récupération',
      'Each logs you in once if you lose your authenticator. Keep them somewhere safe: they are shown this once.':
        'Chacun vous connecte une fois si vous perdez votre application d’authentification. Conservez-les en lieu sûr : ils ne sont affichés qu’une fois.',
      'I have saved them': 'Je les ai enregistrés',
      'Authenticator app': 'Application d’authentification',
      'Set up an authenticator app': 'Configurer une application d’authentification',
      'Turn off': 'Désactiver',
      'New recovery codes': 'Nouveaux codes de récupération',
      'Your password, to begin': 'Votre mot de passe, pour commencer',
      'Scan this code with your authenticator app, or type the key into it.':
        'Scannez ce code avec votre application d’authentification, ou saisissez-y la clé.',
      'QR code of the key for your authenticator app': 'QR code de la clé pour votre application d’authentification',
      'Key:': 'Clé :',
      'The six-digit code the app shows': 'Le code à six chiffres affiché par l’application',
      'Turn on': 'Activer',
      'A code from the app, to turn it off': 'Un code de l’application, pour la désactiver',
      Passkeys: 'Clés d’accès',
      'A passkey logs you in without a password, and counts as a second factor.':
        'Une clé d’accès vous connecte sans mot de passe et compte comme second facteur.',
      Name: 'Nom',
      Added: 'Ajoutée',
      'Last used': 'Dernière utilisation',
      Synced: 'Synchronisée',
      'e.g. my laptop': 'p. ex. mon ordinateur portable',
      'Add a passkey': 'Ajouter une clé d’accès',
      'Linked logins': 'Connexions associées',
      'Each logs in to this account through another site.': 'Chacune connecte à ce compte via un autre site.',
      Through: 'Via',
      'Address there': 'Adresse là-bas',
      Linked: 'Associée',
      Sessions: 'Sessions',
      Started: 'Ouverte',
      IP: 'IP',
      'Browser or app': 'Navigateur ou application',
      Language: 'Langue',
      'The language of this page and of your emails.': 'La langue de cette page et de vos e-mails.',
      'Automatic (this browser’s)': 'Automatique (celle de ce navigateur)',
      'Save': 'Enregistrer',
      'Your language is saved.': 'Votre langue est enregistrée.',
      'You are logged out.': 'Vous êtes déconnecté.',
      you: 'vous',
      'Your account needs a second factor: set up an authenticator app or add a passkey to go on.':
        'Votre compte a besoin d’un second facteur : configurez une application d’authentification ou ajoutez une clé d’accès pour continuer.',
      'Type your password or a code, or use a passkey.': 'Saisissez votre mot de passe ou un code, ou utilisez une clé d’accès.',
      'On. {count} recovery codes left.': 'Activée. Il reste {count} codes de récupération.',
      'On. 1 recovery code left.': 'Activée. Il reste 1 code de récupération.',
      'Off.': 'Désactivée.',
      'Your authenticator app is on: logins ask for its code after the password.':
        'Votre application d’authentification est activée : la connexion demande son code après le mot de passe.',
      'Your authenticator app is off.': 'Votre application d’authentification est désactivée.',
      'New recovery codes replace all the ones you have now. Go on?':
        'De nouveaux codes de récupération remplacent tous ceux que vous avez. Continuer ?',
      'Your passkeys show once you have a second factor.': 'Vos clés d’accès s’affichent dès que vous avez un second facteur.',
      'No passkeys yet.': 'Aucune clé d’accès pour l’instant.',
      Remove: 'Supprimer',
      'This browser cannot create passkeys.': 'Ce navigateur ne peut pas créer de clés d’accès.',
      'Passkey "{name}" added: you can log in with it, without a password.':
        'Clé d’accès « {name} » ajoutée : vous pouvez vous connecter avec, sans mot de passe.',
      'Remove the passkey "{name}"?': 'Supprimer la clé d’accès « {name} » ?',
      'Passkey "{name}" removed.': 'Clé d’accès « {name} » supprimée.',
      'Continue with {provider}': 'Continuer avec {provider}',
      'No linked logins yet.': 'Aucune connexion associée pour l’instant.',
      'Link {provider}': 'Associer {provider}',
      Unlink: 'Dissocier',
      'Unlink your {provider} login?': 'Dissocier votre connexion {provider} ?',
      'Your {provider} login is unlinked.': 'Votre connexion {provider} est dissociée.',
      'this one': 'celle-ci',
      End: 'Terminer',
      'The session has ended: its tokens no longer work.': 'La session est terminée : ses jetons ne fonctionnent plus.',
      'That login took too long or was started in another browser. Start again.':
        'Cette connexion a pris trop de temps ou a été commencée dans un autre navigateur. Recommencez.',
      'The other site’s login did not work. Try again, or use another way in.':
        'La connexion par l’autre site n’a pas abouti. Réessayez, ou connectez-vous autrement.',
      'The other site cannot be reached right now. Try again later, or use another way in.':
        'L’autre site est injoignable pour le moment. Réessayez plus tard, ou connectez-vous autrement.',
      'The other site did not tell us your email address, so no account can be made with it.':
        'L’autre site ne nous a pas communiqué votre adresse e-mail ; aucun compte ne peut donc être créé avec elle.',
      'That login already belongs to another account.': 'Cette connexion appartient déjà à un autre compte.',
      'No account is linked to this login. If you have an account here, log in another way and link it on this page.':
        'Aucun compte n’est associé à cette connexion. Si vous avez un compte ici, connectez-vous autrement et associez-la sur cette page.',
      'Confirm your email address first: follow the link in the email you were sent.':
        'Confirmez d’abord votre adresse e-mail : suivez le lien de l’e-mail qui vous a été envoyé.',
      'This account is disabled.': 'Ce compte est désactivé.',
      'Sign-up is closed here. Ask an administrator for an account.':
        'Les inscriptions sont fermées ici. Demandez un compte à un administrateur.',
      'Too many attempts. Wait a moment and try again.': 'Trop de tentatives. Patientez un instant et réessayez.',
      'This login has run out of time. Start again.': 'Le délai de cette connexion est dépassé. Recommencez.',
      'This login was started in another browser. Start it again here.':
        'Cette connexion a été commencée dans un autre navigateur. Recommencez-la ici.',
      'Login by email is off here. Log in with your password.':
        'La connexion par e-mail est désactivée ici. Connectez-vous avec votre mot de passe.',
      'The login did not work. Try again, or use another way in.':
        'La connexion n’a pas abouti. Réessayez ou utilisez un autre moyen.',
      'Linked: you can now log in with {provider}.': 'Associée : vous pouvez maintenant vous connecter avec {provider}.',
      yes: 'oui',
      'can be': 'possible',
      no: 'non',
      'New here? Create an account': 'Nouveau ici ? Créez un compte',
      'Use the address the invitation was sent to. After you confirm it by the emailed link, log in here to accept.': 'Utilisez l’adresse à laquelle l’invitation a été envoyée. Après l’avoir confirmée par le lien reçu par e-mail, connectez-vous ici pour accepter.',
      'Email': 'Adresse e-mail',
      'New password': 'Nouveau mot de passe',
      'Create my account': 'Créer mon compte',
      'An invitation': 'Une invitation',
      'You were invited to join an organization. Accept it with this account?': 'Vous êtes invité à rejoindre une organisation. L’accepter avec ce compte ?',
      'Accept the invitation': 'Accepter l’invitation',
      'Not now': 'Pas maintenant',
      'Organizations': 'Organisations',
      'You belong to no organization.': 'Vous n’appartenez à aucune organisation.',
      'Role': 'Rôle',
      'Joined': 'Rejoint le',
      'Invitations to you': 'Vos invitations',
      'Organization': 'Organisation',
      'Expires': 'Expire le',
      'active': 'active',
      'Work in it': 'Y travailler',
      'Accept': 'Accepter',
      'You joined {org}.': 'Vous avez rejoint {org}.',
      'You are now working in {org}.': 'Vous travaillez maintenant dans {org}.',
      'This invitation was sent to another address. Log in with that address (confirmed) to accept it.': 'Cette invitation a été envoyée à une autre adresse. Connectez-vous avec cette adresse (confirmée) pour l’accepter.',
      'This invitation has expired; ask the organization for a new one.': 'Cette invitation a expiré ; demandez-en une nouvelle à l’organisation.',
      'This invitation is no longer valid: it was used, revoked or replaced.': 'Cette invitation n’est plus valable : elle a été utilisée, révoquée ou remplacée.',
      'The organization is full; ask its admins.': 'L’organisation est complète ; adressez-vous à ses administrateurs.',
      'Almost there: confirm your address by the link we sent to {email}, then log in here.': 'Presque fini : confirmez votre adresse par le lien envoyé à {email}, puis connectez-vous ici.',
      'This invitation link is not complete; open the link from the email again.': 'Ce lien d’invitation est incomplet ; rouvrez le lien de l’e-mail.',
    },
    es: {
      'Your account': 'Su cuenta',
      'Logged in as': 'Sesión iniciada como',
      'Log out': 'Cerrar sesión',
      'Log in': 'Iniciar sesión',
      'Email or username': 'Correo electrónico o nombre de usuario',
      Password: 'Contraseña',
      or: 'o',
      'Log in with a passkey': 'Iniciar sesión con una llave de acceso',
      'Email me a link': 'Enviarme un enlace',
      'Code from the email': 'Código del correo',
      Back: 'Atrás',
      'Code from your authenticator app, or a recovery code': 'Código de su aplicación de autenticación, o un código de recuperación',
      Continue: 'Continuar',
      'Use a passkey': 'Usar una llave de acceso',
      'Confirm it is you': 'Confirme que es usted',
      'This change needs a fresh confirmation.': 'Este cambio necesita una confirmación reciente.',
      'Cancelled: that change was not made.': 'Cancelado: ese cambio no se ha hecho.',
      Confirm: 'Confirmar',
      Cancel: 'Cancelar',
      'Your recovery codes': 'Sus códigos de recuperación',
      'Each logs you in once if you lose your authenticator. Keep them somewhere safe: they are shown this once.':
        'Cada uno le permite iniciar sesión una vez si pierde su aplicación de autenticación. Guárdelos en un lugar seguro: solo se muestran esta vez.',
      'I have saved them': 'Ya los he guardado',
      'Authenticator app': 'Aplicación de autenticación',
      'Set up an authenticator app': 'Configurar una aplicación de autenticación',
      'Turn off': 'Desactivar',
      'New recovery codes': 'Nuevos códigos de recuperación',
      'Your password, to begin': 'Su contraseña, para empezar',
      'Scan this code with your authenticator app, or type the key into it.':
        'Escanee este código con su aplicación de autenticación, o escriba la clave en ella.',
      'QR code of the key for your authenticator app': 'Código QR de la clave para su aplicación de autenticación',
      'Key:': 'Clave:',
      'The six-digit code the app shows': 'El código de seis dígitos que muestra la aplicación',
      'Turn on': 'Activar',
      'A code from the app, to turn it off': 'Un código de la aplicación, para desactivarla',
      Passkeys: 'Llaves de acceso',
      'A passkey logs you in without a password, and counts as a second factor.':
        'Una llave de acceso le permite iniciar sesión sin contraseña y cuenta como segundo factor.',
      Name: 'Nombre',
      Added: 'Añadida',
      'Last used': 'Último uso',
      Synced: 'Sincronizada',
      'e.g. my laptop': 'p. ej. mi portátil',
      'Add a passkey': 'Añadir una llave de acceso',
      'Linked logins': 'Inicios de sesión vinculados',
      'Each logs in to this account through another site.': 'Cada uno da acceso a esta cuenta a través de otro sitio.',
      Through: 'A través de',
      'Address there': 'Dirección allí',
      Linked: 'Vinculado',
      Sessions: 'Sesiones',
      Started: 'Iniciada',
      IP: 'IP',
      'Browser or app': 'Navegador o aplicación',
      Language: 'Idioma',
      'The language of this page and of your emails.': 'El idioma de esta página y de sus correos.',
      'Automatic (this browser’s)': 'Automático (el de este navegador)',
      'Save': 'Guardar',
      'Your language is saved.': 'Su idioma se ha guardado.',
      'You are logged out.': 'Ha cerrado la sesión.',
      you: 'usted',
      'Your account needs a second factor: set up an authenticator app or add a passkey to go on.':
        'Su cuenta necesita un segundo factor: configure una aplicación de autenticación o añada una llave de acceso para continuar.',
      'Type your password or a code, or use a passkey.': 'Escriba su contraseña o un código, o use una llave de acceso.',
      'On. {count} recovery codes left.': 'Activada. Quedan {count} códigos de recuperación.',
      'On. 1 recovery code left.': 'Activada. Queda 1 código de recuperación.',
      'Off.': 'Desactivada.',
      'Your authenticator app is on: logins ask for its code after the password.':
        'Su aplicación de autenticación está activada: al iniciar sesión se pide su código después de la contraseña.',
      'Your authenticator app is off.': 'Su aplicación de autenticación está desactivada.',
      'New recovery codes replace all the ones you have now. Go on?':
        'Los nuevos códigos de recuperación sustituyen a todos los que tiene ahora. ¿Continuar?',
      'Your passkeys show once you have a second factor.': 'Sus llaves de acceso aparecen cuando tenga un segundo factor.',
      'No passkeys yet.': 'Aún no hay llaves de acceso.',
      Remove: 'Eliminar',
      'This browser cannot create passkeys.': 'Este navegador no puede crear llaves de acceso.',
      'Passkey "{name}" added: you can log in with it, without a password.':
        'Llave de acceso «{name}» añadida: puede iniciar sesión con ella, sin contraseña.',
      'Remove the passkey "{name}"?': '¿Eliminar la llave de acceso «{name}»?',
      'Passkey "{name}" removed.': 'Llave de acceso «{name}» eliminada.',
      'Continue with {provider}': 'Continuar con {provider}',
      'No linked logins yet.': 'Aún no hay inicios de sesión vinculados.',
      'Link {provider}': 'Vincular {provider}',
      Unlink: 'Desvincular',
      'Unlink your {provider} login?': '¿Desvincular su inicio de sesión con {provider}?',
      'Your {provider} login is unlinked.': 'Su inicio de sesión con {provider} está desvinculado.',
      'this one': 'esta',
      End: 'Cerrar',
      'The session has ended: its tokens no longer work.': 'La sesión se ha cerrado: sus tokens ya no funcionan.',
      'That login took too long or was started in another browser. Start again.':
        'Este inicio de sesión tardó demasiado o se empezó en otro navegador. Empiece de nuevo.',
      'The other site’s login did not work. Try again, or use another way in.':
        'El inicio de sesión en el otro sitio no funcionó. Inténtelo de nuevo o entre de otra forma.',
      'The other site cannot be reached right now. Try again later, or use another way in.':
        'Ahora mismo no se puede acceder al otro sitio. Inténtelo más tarde o entre de otra forma.',
      'The other site did not tell us your email address, so no account can be made with it.':
        'El otro sitio no nos indicó su dirección de correo electrónico, así que no se puede crear una cuenta con ella.',
      'That login already belongs to another account.': 'Ese inicio de sesión ya pertenece a otra cuenta.',
      'No account is linked to this login. If you have an account here, log in another way and link it on this page.':
        'Ninguna cuenta está vinculada a este inicio de sesión. Si tiene una cuenta aquí, entre de otra forma y vincúlelo en esta página.',
      'Confirm your email address first: follow the link in the email you were sent.':
        'Confirme primero su dirección de correo electrónico: siga el enlace del correo que le enviamos.',
      'This account is disabled.': 'Esta cuenta está desactivada.',
      'Sign-up is closed here. Ask an administrator for an account.':
        'Aquí el registro está cerrado. Pida una cuenta a un administrador.',
      'Too many attempts. Wait a moment and try again.':
        'Demasiados intentos. Espere un momento y vuelva a intentarlo.',
      'This login has run out of time. Start again.': 'Este inicio de sesión ha caducado. Empiece de nuevo.',
      'This login was started in another browser. Start it again here.':
        'Este inicio de sesión se empezó en otro navegador. Empiécelo de nuevo aquí.',
      'Login by email is off here. Log in with your password.':
        'Aquí el inicio de sesión por correo está desactivado. Inicie sesión con su contraseña.',
      'The login did not work. Try again, or use another way in.':
        'El inicio de sesión no funcionó. Inténtelo de nuevo o use otra forma de entrar.',
      'Linked: you can now log in with {provider}.': 'Vinculado: ya puede iniciar sesión con {provider}.',
      yes: 'sí',
      'can be': 'posible',
      no: 'no',
      'New here? Create an account': '¿Nuevo aquí? Crea una cuenta',
      'Use the address the invitation was sent to. After you confirm it by the emailed link, log in here to accept.': 'Usa la dirección a la que se envió la invitación. Después de confirmarla con el enlace del correo, inicia sesión aquí para aceptar.',
      'Email': 'Correo electrónico',
      'New password': 'Nueva contraseña',
      'Create my account': 'Crear mi cuenta',
      'An invitation': 'Una invitación',
      'You were invited to join an organization. Accept it with this account?': 'Te han invitado a unirte a una organización. ¿Aceptarla con esta cuenta?',
      'Accept the invitation': 'Aceptar la invitación',
      'Not now': 'Ahora no',
      'Organizations': 'Organizaciones',
      'You belong to no organization.': 'No perteneces a ninguna organización.',
      'Role': 'Rol',
      'Joined': 'Unido',
      'Invitations to you': 'Invitaciones para ti',
      'Organization': 'Organización',
      'Expires': 'Caduca',
      'active': 'activa',
      'Work in it': 'Trabajar en ella',
      'Accept': 'Aceptar',
      'You joined {org}.': 'Te has unido a {org}.',
      'You are now working in {org}.': 'Ahora trabajas en {org}.',
      'This invitation was sent to another address. Log in with that address (confirmed) to accept it.': 'Esta invitación se envió a otra dirección. Inicia sesión con esa dirección (confirmada) para aceptarla.',
      'This invitation has expired; ask the organization for a new one.': 'Esta invitación ha caducado; pide una nueva a la organización.',
      'This invitation is no longer valid: it was used, revoked or replaced.': 'Esta invitación ya no es válida: se usó, se revocó o se reemplazó.',
      'The organization is full; ask its admins.': 'La organización está completa; consulta a sus administradores.',
      'Almost there: confirm your address by the link we sent to {email}, then log in here.': 'Casi listo: confirma tu dirección con el enlace que enviamos a {email} y luego inicia sesión aquí.',
      'This invitation link is not complete; open the link from the email again.': 'Este enlace de invitación está incompleto; vuelve a abrir el enlace del correo.',
    },
  };

  let current = 'en';

  /** The first of the browser's languages that the page speaks, else English. */
  function browserLanguage() {
    for (const tag of navigator.languages || [navigator.language || 'en']) {
      const primary = String(tag).split(/[-_]/)[0].toLowerCase();
      if (LANGUAGES[primary]) {
        return primary;
      }
    }
    return 'en';
  }

  /** `text` (English, with `{name}` places) in the page's language, with `vars` put in. */
  function t(text, vars = {}) {
    const words = (TEXTS[current] || {})[text] || text;
    return words.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  }

  /** The page's own words as written in index.html, kept to translate again on a change. */
  const written = [];
  const ATTRIBUTES = ['placeholder', 'alt', 'title', 'aria-label'];

  function collect() {
    for (const node of document.querySelectorAll('title, h1, h2, h3, label, button, th, p, span, option, a')) {
      const text = node.textContent.replace(/\s+/g, ' ').trim();
      if (node.children.length === 0 && text) {
        written.push({ node, text });
      }
    }
    for (const node of document.querySelectorAll(ATTRIBUTES.map((a) => `[${a}]`).join(', '))) {
      for (const attribute of ATTRIBUTES) {
        if (node.hasAttribute(attribute)) {
          written.push({ node, attribute, text: node.getAttribute(attribute) });
        }
      }
    }
  }

  /** Shows the page in `language` (`en`, `de`, `fr`, `es`), or the browser's when none. */
  function use(language) {
    current = LANGUAGES[language] ? language : browserLanguage();
    document.documentElement.lang = current;
    for (const { node, attribute, text } of written) {
      if (attribute) {
        node.setAttribute(attribute, t(text));
      } else {
        node.textContent = t(text);
      }
    }
  }

  collect();
  use(null);
  return {
    LANGUAGES,
    t,
    use,
    /** The page's own words, as index.html has them in English. */
    words: () => written.map((w) => w.text),
    /** Whether `language` has `text` (for the page's test). */
    has: (language, text) => Boolean(TEXTS[language] && TEXTS[language][text]),
  };
})();
