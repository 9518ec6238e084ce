# Les textes de gatehouse en français : chaque e-mail et chaque page. Les autres langues ont les
# mêmes messages ; s'il en manque un quelque part, un test échoue.
#
# Chaque message peut utiliser { $product } (GATEHOUSE_PRODUCT_NAME) et { $site } (l'adresse à
# laquelle on utilise gatehouse). Pour remplacer un message : GATEHOUSE_TEMPLATES_DIR/fr.ftl.

## Durées de validité : « expire dans { $valid } »

duration-days = { $n ->
    [one] { $n } jour
   *[other] { $n } jours
}
duration-hours = { $n ->
    [one] { $n } heure
   *[other] { $n } heures
}
duration-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
duration-seconds = { $n ->
    [one] { $n } seconde
   *[other] { $n } secondes
}

## E-mails. Chacun a un objet, ses paragraphes et, s'il contient un lien, un bouton. Dans la
## partie texte, le lien (et un code) figurent chacun sur une ligne à part.

email-footer = { $product } · { $site }

activation =
    .subject = Confirmez votre adresse e-mail
    .intro = Bienvenue sur { $product } ! Pour activer votre compte, ouvrez ce lien :
    .button = Activer mon compte
    .outro = Le lien ne fonctionne qu'une fois et expire dans { $valid }. Si vous ne vous êtes pas inscrit, ignorez cet e-mail ; aucun compte ne sera activé.

activation-unlinking =
    .intro = Pour activer votre compte sur { $product }, ouvrez ce lien :
    .provider = Ce compte a été créé par une connexion avec un compte { $provider }. L'activer par ce lien supprime cette connexion { $provider }, puisque rien ne montre qu'elle est à vous. Si elle l'est, connectez-vous et liez-la de nouveau depuis la page de votre compte.

activation-through =
    .subject = Confirmez votre adresse e-mail
    .intro-with-address = Un compte vient d'être créé sur { $product } avec cette adresse, par une connexion avec le compte { $provider } { $address }.
    .intro = Un compte vient d'être créé sur { $product } avec cette adresse, par une connexion avec un compte { $provider }.
    .confirm = Si c'était vous, confirmez votre adresse : le lien ne fonctionne qu'une fois et expire dans { $valid }. Une fois l'adresse confirmée, ce compte { $provider } pourra s'y connecter.
    .button = Confirmer mon adresse
    .outro = Si ce n'était pas vous, ignorez cet e-mail : le compte reste inactif. Vous pouvez toujours vous inscrire vous-même, ou utiliser « Mot de passe oublié », qui supprime le lien avec cette connexion.

password-reset =
    .subject = Réinitialisez votre mot de passe
    .intro = Quelqu'un a demandé à réinitialiser le mot de passe de votre compte sur { $product }. Pour choisir un nouveau mot de passe, ouvrez ce lien :
    .button = Choisir un nouveau mot de passe
    .outro = Le lien ne fonctionne qu'une fois et expire dans { $valid }. Si ce n'était pas vous, ignorez cet e-mail ; votre mot de passe reste inchangé.

email-login =
    .subject = Votre lien de connexion
    .intro = Quelqu'un a demandé à se connecter à votre compte sur { $product }. Pour vous connecter, ouvrez ce lien :
    .button = Se connecter
    .code = Ou saisissez ce code là où vous l'avez demandé :
    .outro = Le lien et le code ne fonctionnent qu'une fois, ensemble, et expirent dans { $valid }. Si ce n'était pas vous, ignorez cet e-mail ; rien ne se passe sans eux.

email-signup =
    .subject = Votre lien d'inscription
    .intro = Quelqu'un a demandé à s'inscrire sur { $product } avec cette adresse. Pour créer votre compte et vous connecter, ouvrez ce lien :
    .button = Créer mon compte et me connecter
    .code = Ou saisissez ce code là où vous l'avez demandé :
    .outro = Le lien et le code ne fonctionnent qu'une fois, ensemble, et expirent dans { $valid }. Si ce n'était pas vous, ignorez cet e-mail ; rien ne se passe sans eux.

password-changed =
    .subject = Votre mot de passe a été modifié
    .intro = Le mot de passe de votre compte sur { $product } vient d'être modifié. Vos autres sessions ont été déconnectées.
    .outro = Si c'était vous, il n'y a rien à faire. Sinon, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }) et vérifiez votre compte.

password-reset-notice =
    .subject = Votre mot de passe a été modifié
    .intro = Le mot de passe de votre compte sur { $product } vient d'être réinitialisé grâce à un lien envoyé à cette adresse. Vos autres sessions ont été déconnectées.
    .outro = Si c'était vous, il n'y a rien à faire. Sinon, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }) et vérifiez votre compte.

email-change =
    .subject = Confirmez votre nouvelle adresse e-mail
    .intro = Quelqu'un a demandé à utiliser cette adresse pour son compte sur { $product }. Pour confirmer le changement, ouvrez ce lien :
    .button = Confirmer ma nouvelle adresse
    .outro = Le lien ne fonctionne qu'une fois et expire dans { $valid }. Si ce n'était pas vous, ignorez cet e-mail ; rien ne change.

email-changed =
    .subject = Votre adresse e-mail a été modifiée
    .intro = L'adresse e-mail de votre compte sur { $product } vient d'être remplacée par { $address }. Si c'était vous, il n'y a rien à faire.
    .undo = Sinon, ouvrez ce lien pour rétablir cette adresse et déconnecter toutes les sessions :
    .button = Annuler le changement
    .outro = Le lien ne fonctionne qu'une fois et expire dans { $valid }.

invitation =
    .subject = Invitation à rejoindre { $org } sur { $product }
    .intro = Vous êtes invité à rejoindre l’organisation { $org } sur { $product }, avec le rôle { $role }. Pour accepter, ouvrez ce lien et connectez-vous, ou inscrivez-vous, avec cette adresse e-mail :
    .button = Accepter l’invitation
    .outro = Le lien expire dans { $valid }. Si vous ne connaissez pas cette organisation, ignorez cet e-mail ; rien ne se passe.

signup-attempt =
    .subject = Quelqu'un a tenté de s'inscrire avec votre adresse
    .intro = Quelqu'un vient de tenter de créer un compte sur { $product } avec cette adresse e-mail, mais elle a déjà un compte.
    .outro = Si c'était vous, connectez-vous plutôt, ou utilisez « Mot de passe oublié » si vous ne connaissez plus votre mot de passe. Sinon, ignorez cet e-mail ; rien n'a changé.

mfa-enabled =
    .subject = La connexion en deux étapes est activée
    .intro = Une application d'authentification vient d'être ajoutée à votre compte sur { $product } : la connexion demande désormais un code de cette application après le mot de passe.
    .keep = Conservez vos codes de récupération en lieu sûr ; chacun fonctionne une fois si l'application est perdue.
    .outro = Si ce n'était pas vous, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }) et demandez à un administrateur de retirer l'application d'authentification.

mfa-disabled =
    .subject = La connexion en deux étapes est désactivée
    .intro = L'application d'authentification et les codes de récupération de votre compte sur { $product } viennent d'être retirés depuis une session de votre compte : la connexion ne demande plus que le mot de passe.
    .intro-by-admin = L'application d'authentification et les codes de récupération de votre compte sur { $product } viennent d'être retirés par un administrateur : la connexion ne demande plus que le mot de passe.
    .outro = Si ce n'était pas vous, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }) et réactivez la connexion en deux étapes.

recovery-code-used =
    .subject = Un code de récupération a été utilisé
    .intro = Un code de récupération vient d'être utilisé pour se connecter à votre compte sur { $product }. { $left ->
        [0] Il n'en reste aucun : créez-en de nouveaux maintenant dans les paramètres de votre compte.
        [one] Il en reste 1 ; créez-en de nouveaux bientôt dans les paramètres de votre compte.
       *[other] Il en reste { $left }.
    }
    .outro = Si ce n'était pas vous, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }) et créez de nouveaux codes de récupération.

passkey-added =
    .subject = Une clé d'accès a été ajoutée
    .intro = Une clé d'accès nommée « { $name } » vient d'être ajoutée à votre compte sur { $product } ; elle permet de se connecter sans mot de passe et sert de second facteur.
    .outro = Si ce n'était pas vous, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }) et supprimez la clé d'accès dans les paramètres de votre compte.

impersonation-notice =
    .subject = Un administrateur a ouvert votre compte
    .intro = Un administrateur de { $product } agit en votre nom, pour voir votre compte comme vous le voyez. Il ne peut modifier ni votre mot de passe, ni vos seconds facteurs, ni votre adresse, et son accès prend fin dans les 15 minutes.
    .reason = La raison donnée : { $reason }
    .outro = Si vous ne vous y attendiez pas, contactez le support de { $site } et vérifiez votre compte.

passkey-removed =
    .subject = Une clé d'accès a été supprimée
    .intro = Une clé d'accès vient d'être supprimée de votre compte sur { $product }.
    .outro = Si ce n'était pas vous, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }).

identity-linked =
    .subject = Connexion { $provider } associée
    .intro-with-address = Se connecter avec votre compte { $provider } ({ $address }) vous connecte désormais à votre compte sur { $product }.
    .intro = Se connecter avec un compte { $provider } vous connecte désormais à votre compte sur { $product }.
    .outro = Si ce n'était pas vous, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }) et retirez la connexion { $provider } dans les paramètres de votre compte.

sso-idp-changed =
    .subject = L'authentification unique de votre organisation fait maintenant confiance à un autre fournisseur d'identité
    .intro = Une connexion d'authentification unique de votre organisation « { $org } » sur { $product } (connexion { $connection }) vient d'être modifiée pour faire confiance à un autre fournisseur d'identité, ou à d'autres clés de son fournisseur d'identité.
    .now = Elle fait maintenant confiance au fournisseur d'identité qui se nomme { $idp }, par les clés { $keys }. Les personnes qu'elle connectait se connectent à nouveau : aucune connexion qu'elle a liée ne passe à un autre fournisseur d'identité.
    .outro = Si vous n'attendiez pas ce changement, vérifiez sans tarder les connexions d'authentification unique de l'organisation et son journal d'audit, et supprimez la connexion si elle n'est pas la vôtre.

identity-unlinked =
    .subject = Connexion { $provider } dissociée
    .intro = Se connecter avec votre compte { $provider } ne vous connecte plus à votre compte sur { $product }.
    .outro = Si ce n'était pas vous, réinitialisez immédiatement votre mot de passe (« Mot de passe oublié » sur { $site }).

test-message =
    .subject = { $product } : message de test
    .intro = Ceci est un message de test du gatehouse à l'adresse { $site }.
    .outro = Si vous pouvez le lire, l'envoi des e-mails fonctionne.

## Pages

page-continue-to = Continuer vers { $app }
page-continue = Continuer

page-activated =
    .title = Votre compte est actif
    .body = Merci : { $email } est confirmée et le compte est prêt. Vous pouvez vous connecter dès maintenant.

page-reset-form =
    .title = Choisissez un nouveau mot de passe
    .label = Nouveau mot de passe (au moins 8 caractères)
    .button = Enregistrer le nouveau mot de passe

page-reset-done =
    .title = Votre mot de passe a été modifié
    .body = Vous pouvez maintenant vous connecter avec le nouveau mot de passe. Toutes les sessions qui utilisaient l'ancien ont pris fin.

page-email-login =
    .title = Se connecter
    .body = Vous avez demandé un lien de connexion. Appuyez sur le bouton pour vous connecter sur cet appareil.
    .button = Se connecter

page-email-confirmed =
    .title = Votre adresse e-mail a été modifiée
    .body = { $email } est désormais l'adresse de votre compte. Votre ancienne adresse a été prévenue.

page-revert-form =
    .title = Annuler le changement d'adresse
    .body = Si vous n'avez pas changé l'adresse e-mail de votre compte, rétablissez l'ancienne ici. Toutes les sessions seront déconnectées ; réinitialisez ensuite votre mot de passe.
    .button = Rétablir mon ancienne adresse et me déconnecter partout

page-revert-done =
    .title = Votre ancienne adresse e-mail est rétablie
    .body = { $email } est de nouveau l'adresse de votre compte et toutes les sessions ont été déconnectées. Réinitialisez maintenant votre mot de passe si quelqu'un d'autre le connaissait.

page-login =
    .title = Se connecter
    .login = Adresse e-mail ou nom d'utilisateur
    .password = Mot de passe
    .button = Se connecter
    .continue = Continuer
    .passkey = Se connecter avec une clé d'accès
    .provider = Continuer avec { $provider }
    .email-label = Ou recevoir un lien par e-mail
    .email-button = M'envoyer un lien
    .missing = Saisissez votre adresse e-mail ou votre nom d'utilisateur, et votre mot de passe.
    .failed = La connexion n'a pas abouti. Réessayez ou utilisez un autre moyen.

page-sso-continue =
    .title = Connexion avec votre organisation
    .body = Votre organisation vous connecte par sa propre page de connexion.
    .link = Continuer

page-link-identity =
    .title = Lier { $provider } ?
    .body = Ceci lie une connexion { $provider } au compte { $email } : quiconque se connecte avec ce compte { $provider } entrera dans celui-ci.
    .warning = Ne continuez que si { $email } est votre compte et que vous l'avez demandé vous-même. Si quelqu'un vous a envoyé ce lien, fermez cette page.
    .button = Lier { $provider } à { $email }
    .decline = Ce n'est pas le vôtre ? Fermez cette page : rien n'est lié.

page-link-sent =
    .title = Consultez vos e-mails
    .body = Si un compte existe avec cette adresse, un lien de connexion est en route. Ouvrez-le dans ce navigateur.
    .code = Ou saisissez le code reçu par e-mail
    .button = Se connecter

page-second-factor =
    .title = Second facteur
    .passkey = Utiliser votre clé d'accès
    .code = Le code de votre application d'authentification, ou un code de récupération
    .button = Continuer

page-signed-in =
    .title = Connecté
    .body = Vous êtes connecté en tant que { $who }.
    .button = Se déconnecter

page-signed-out =
    .title = Déconnecté
    .body = Vous êtes déconnecté de toutes les applications qui utilisaient cette connexion.

page-consent =
    .title = Autoriser l'accès ?
    .intro = { $client } demande à utiliser votre compte pour :
    .allow = Autoriser
    .deny = Refuser
    .unverified = { $client } s'est inscrit ici de lui-même : personne n'a vérifié qui l'a créé. La réponse part vers { $app } ; n'autorisez que si c'est là que vous avez commencé.

scope-openid = savoir qui vous êtes (l'identifiant de votre compte)
scope-profile = voir votre nom et votre nom d'utilisateur
scope-email = voir votre adresse e-mail
scope-offline_access = rester connecté pendant votre absence
scope-app_data = voir les données que les administrateurs conservent sur votre compte (offre, rôles)
scope-org = connaître l’organisation dans laquelle vous travaillez ici, votre rôle et vos permissions
scope-org-named = savoir que vous travaillez ici dans { $org }, votre rôle et vos permissions
scope-resource = utiliser { $app } en votre nom

page-device =
    .title = Connecter un appareil
    .intro = Saisissez le code affiché par votre appareil.
    .code = Code
    .continue = Continuer
    .unknown = Ce code n'est pas valide, a expiré ou a déjà reçu une réponse. Vérifiez le code affiché par votre appareil, ou recommencez depuis celui-ci.

page-device-approve =
    .title = Connecter cet appareil ?
    .intro = { $client } sur un autre appareil demande à utiliser votre compte pour :
    .check = N'autorisez que si vous êtes à l'origine de cette demande et que votre appareil affiche le code { $code }.
    .who = Vous êtes connecté en tant que { $who } ; l'appareil aura accès à ce compte.
    .allow = Autoriser
    .deny = Refuser

page-device-done =
    .approved-title = Appareil connecté
    .approved = Vous pouvez revenir à votre appareil : il est connecté.
    .denied-title = Demande refusée
    .denied = L'appareil n'a pas été autorisé.

page-oauth-refused =
    .title = Cette demande de connexion n'est pas valide

page-logout =
    .title = Se déconnecter
    .body = Se déconnecter de toutes les applications qui utilisent cette connexion ?
    .button = Se déconnecter

page-form-expired =
    .title = Ce formulaire a expiré
    .body = Ce formulaire a été ouvert dans un autre navigateur, il y a plus d'un jour, ou envoyé depuis un autre site : on ne peut donc pas s'y fier. Ouvrez de nouveau la page.
    .login = Se connecter

## Pages pour un lien inutilisable

link-expired =
    .title = Ce lien a expiré
    .detail = Les liens expirent au bout d'un certain temps ; recommencez.
link-invalid =
    .title = Ce lien n'est pas valide
    .detail = Le lien est incomplet, inconnu ou a déjà été utilisé.
link-address-taken =
    .title = Cette adresse est déjà prise
    .detail = Un autre compte utilise désormais cette adresse ; le changement ne peut donc pas être effectué.
activation-link-expired =
    .title = Ce lien a expiré
    .detail = Les liens d'activation expirent. Demandez-en un nouveau depuis l'application et utilisez l'e-mail le plus récent.
activation-link-invalid =
    .title = Ce lien n'est pas valide
    .detail = Le lien est incomplet ou inconnu. Copiez le lien entier depuis l'e-mail le plus récent.
reset-link-expired =
    .title = Ce lien a expiré
    .detail = Les liens de réinitialisation du mot de passe expirent au bout d'un certain temps. Demandez-en un nouveau et utilisez l'e-mail le plus récent.
login-link-expired =
    .title = Ce lien a expiré
    .detail = Les liens de connexion fonctionnent 10 minutes, et une demande plus récente annule l'ancien lien. Demandez-en un nouveau et utilisez l'e-mail le plus récent.
login-link-invalid =
    .title = Ce lien n'est pas valide
    .detail = Le lien est incomplet, inconnu ou a déjà été utilisé. Demandez-en un nouveau et utilisez l'e-mail le plus récent.
login-by-email-off =
    .title = La connexion par e-mail est désactivée
    .detail = Ce site ne permet plus de se connecter par un lien envoyé par e-mail. Connectez-vous avec votre mot de passe.
account-disabled =
    .title = Ce compte est désactivé
    .detail = Un administrateur a désactivé ce compte.
signup-closed =
    .title = Les inscriptions sont fermées
    .detail = Ce site ne crée plus de comptes par e-mail. Demandez-en un à un administrateur.
form-from-elsewhere =
    .title = Ce formulaire a été envoyé depuis un autre site
    .detail = Ouvrez de nouveau le lien de l'e-mail et appuyez sur le bouton de cette page.
second-factor-first =
    .title = Configurez d'abord un second facteur
    .detail = Ce compte doit configurer un second facteur avant de pouvoir se connecter à d'autres applications : faites-le d'abord sur la page de votre compte.

## Pourquoi un formulaire de connexion a été refusé, selon le code d'erreur de l'API ; un code
## absent d'ici affiche l'explication de l'API, en anglais.

problem-invalid_credentials = Adresse e-mail, nom d'utilisateur ou mot de passe incorrect.
problem-account_not_activated = Confirmez d'abord votre adresse e-mail : suivez le lien de l'e-mail qui vous a été envoyé.
problem-account_disabled = Ce compte est désactivé.
problem-rate_limited = Trop de tentatives. Patientez un instant et réessayez.
problem-invalid_code = Ce code est incorrect ou a déjà été utilisé. Réessayez.
problem-mfa_token_invalid = Le délai de cette connexion est dépassé. Recommencez.
problem-token_invalid = Le délai de cette connexion est dépassé. Recommencez.
problem-token_expired = Le délai de cette connexion est dépassé. Recommencez.
problem-webauthn_failed = La clé d'accès n'a pas pu être utilisée. Réessayez, ou connectez-vous autrement.
problem-passwordless_disabled = La connexion par e-mail est désactivée ici. Connectez-vous avec votre mot de passe.
problem-signup_disabled = Les inscriptions sont fermées ici. Demandez un compte à un administrateur.
problem-validation_failed = Vérifiez ce que vous avez saisi et réessayez.
problem-oidc_state_invalid = Cette connexion a pris trop de temps ou a été commencée dans un autre navigateur. Recommencez.
problem-handoff_invalid = Cette connexion a été commencée dans un autre navigateur. Recommencez-la ici.
problem-oidc_failed = La connexion par l'autre site n'a pas abouti. Réessayez, ou connectez-vous autrement.
problem-provider_unavailable = L'autre site est injoignable pour le moment. Réessayez plus tard, ou connectez-vous autrement.
problem-provider_email_missing = L'autre site ne nous a pas communiqué votre adresse e-mail ; aucun compte ne peut donc être créé avec elle.
problem-identity_taken = Cette connexion appartient déjà à un autre compte.
