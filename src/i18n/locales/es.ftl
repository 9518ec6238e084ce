# Los textos de gatehouse en español: cada correo y cada página. Los demás idiomas tienen los
# mismos mensajes; si falta uno en alguno, falla una prueba.
#
# Cada mensaje puede usar { $product } (GATEHOUSE_PRODUCT_NAME) y { $site } (la dirección en la
# que se usa gatehouse). Para sustituir un mensaje: GATEHOUSE_TEMPLATES_DIR/es.ftl.

## Plazos de validez: «caduca en { $valid }»

duration-days = { $n ->
    [one] 1 día
   *[other] { $n } días
}
duration-hours = { $n ->
    [one] 1 hora
   *[other] { $n } horas
}
duration-minutes = { $n ->
    [one] 1 minuto
   *[other] { $n } minutos
}
duration-seconds = { $n ->
    [one] 1 segundo
   *[other] { $n } segundos
}

## Correos. Cada uno tiene un asunto, sus párrafos y, si lleva un enlace, un botón. En la parte
## de texto, el enlace (y un código) van cada uno en su propia línea.

email-footer = { $product } · { $site }

activation =
    .subject = Confirme su dirección de correo electrónico
    .intro = ¡Le damos la bienvenida a { $product }! Para activar su cuenta, abra este enlace:
    .button = Activar mi cuenta
    .outro = El enlace funciona una sola vez y caduca en { $valid }. Si usted no se registró, ignore este correo; no se activará ninguna cuenta.

activation-unlinking =
    .intro = Para activar su cuenta en { $product }, abra este enlace:
    .provider = Esta cuenta se creó iniciando sesión con una cuenta de { $provider }. Activarla con este enlace elimina ese inicio de sesión de { $provider }, ya que nada muestra que sea suyo. Si lo es, inicie sesión y vuelva a vincularlo desde la página de su cuenta.

activation-through =
    .subject = Confirme su dirección de correo electrónico
    .intro-with-address = Se acaba de crear una cuenta en { $product } con esta dirección al iniciar sesión con la cuenta de { $provider } { $address }.
    .intro = Se acaba de crear una cuenta en { $product } con esta dirección al iniciar sesión con una cuenta de { $provider }.
    .confirm = Si fue usted, confirme su dirección: el enlace funciona una sola vez y caduca en { $valid }. Al confirmarla, esa cuenta de { $provider } podrá iniciar sesión en ella.
    .button = Confirmar mi dirección
    .outro = Si no fue usted, ignore este correo: la cuenta seguirá inactiva. Aún puede registrarse usted mismo o usar «¿Olvidó su contraseña?», que desvincula ese inicio de sesión.

password-reset =
    .subject = Restablezca su contraseña
    .intro = Alguien ha pedido restablecer la contraseña de su cuenta en { $product }. Para elegir una contraseña nueva, abra este enlace:
    .button = Elegir una contraseña nueva
    .outro = El enlace funciona una sola vez y caduca en { $valid }. Si no fue usted, ignore este correo; su contraseña no cambia.

email-login =
    .subject = Su enlace de inicio de sesión
    .intro = Alguien ha pedido iniciar sesión en su cuenta de { $product }. Para iniciar sesión, abra este enlace:
    .button = Iniciar sesión
    .code = O introduzca este código donde lo pidió:
    .outro = El enlace y el código funcionan una sola vez, juntos, y caducan en { $valid }. Si no fue usted, ignore este correo; sin ellos no ocurre nada.

email-signup =
    .subject = Su enlace de registro
    .intro = Alguien ha pedido registrarse en { $product } con esta dirección. Para crear su cuenta e iniciar sesión, abra este enlace:
    .button = Crear mi cuenta e iniciar sesión
    .code = O introduzca este código donde lo pidió:
    .outro = El enlace y el código funcionan una sola vez, juntos, y caducan en { $valid }. Si no fue usted, ignore este correo; sin ellos no ocurre nada.

password-changed =
    .subject = Su contraseña ha cambiado
    .intro = La contraseña de su cuenta en { $product } se acaba de cambiar. Se han cerrado sus demás sesiones.
    .outro = Si fue usted, no tiene que hacer nada. Si no, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }) y revise su cuenta.

password-reset-notice =
    .subject = Su contraseña ha cambiado
    .intro = La contraseña de su cuenta en { $product } se acaba de restablecer con un enlace enviado a esta dirección. Se han cerrado sus demás sesiones.
    .outro = Si fue usted, no tiene que hacer nada. Si no, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }) y revise su cuenta.

email-change =
    .subject = Confirme su nueva dirección de correo electrónico
    .intro = Alguien ha pedido usar esta dirección para su cuenta en { $product }. Para confirmar el cambio, abra este enlace:
    .button = Confirmar mi nueva dirección
    .outro = El enlace funciona una sola vez y caduca en { $valid }. Si no fue usted, ignore este correo; no cambia nada.

email-changed =
    .subject = Su dirección de correo electrónico ha cambiado
    .intro = La dirección de correo electrónico de su cuenta en { $product } se acaba de cambiar a { $address }. Si fue usted, no tiene que hacer nada.
    .undo = Si no, abra este enlace para recuperar esta dirección y cerrar todas las sesiones:
    .button = Deshacer el cambio
    .outro = El enlace funciona una sola vez y caduca en { $valid }.

invitation =
    .subject = Invitación para unirte a { $org } en { $product }
    .intro = Te han invitado a unirte a la organización { $org } en { $product }, con el rol { $role }. Para aceptar, abre este enlace e inicia sesión, o regístrate, con esta dirección de correo:
    .button = Aceptar la invitación
    .outro = El enlace caduca en { $valid }. Si no conoces esta organización, ignora este correo; no pasa nada.

signup-attempt =
    .subject = Alguien intentó registrarse con su dirección
    .intro = Alguien acaba de intentar crear una cuenta en { $product } con esta dirección de correo electrónico, pero ya tiene una.
    .outro = Si fue usted, inicie sesión en su lugar, o use allí «¿Olvidó su contraseña?» si ya no la recuerda. Si no fue usted, ignore este correo; no ha cambiado nada.

mfa-enabled =
    .subject = El inicio de sesión en dos pasos está activado
    .intro = Se acaba de añadir una aplicación de autenticación a su cuenta en { $product }: ahora, para iniciar sesión, hace falta un código de ella después de la contraseña.
    .keep = Guarde sus códigos de recuperación en un lugar seguro; cada uno funciona una vez si pierde la aplicación.
    .outro = Si no fue usted, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }) y pida a un administrador que retire la aplicación de autenticación.

mfa-disabled =
    .subject = El inicio de sesión en dos pasos está desactivado
    .intro = La aplicación de autenticación y los códigos de recuperación de su cuenta en { $product } se acaban de retirar desde una sesión de su cuenta: ahora basta la contraseña para iniciar sesión.
    .intro-by-admin = Un administrador acaba de retirar la aplicación de autenticación y los códigos de recuperación de su cuenta en { $product }: ahora basta la contraseña para iniciar sesión.
    .outro = Si no fue usted, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }) y vuelva a activar el inicio de sesión en dos pasos.

recovery-code-used =
    .subject = Se ha usado un código de recuperación
    .intro = Se acaba de usar un código de recuperación para iniciar sesión en su cuenta de { $product }. { $left ->
        [0] No queda ninguno: cree un juego nuevo ahora en la configuración de su cuenta.
        [one] Queda 1; cree un juego nuevo pronto en la configuración de su cuenta.
       *[other] Quedan { $left }.
    }
    .outro = Si no fue usted, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }) y cree un juego nuevo de códigos de recuperación.

passkey-added =
    .subject = Se ha añadido una llave de acceso
    .intro = Se acaba de añadir una llave de acceso llamada «{ $name }» a su cuenta en { $product }; permite iniciar sesión sin contraseña y sirve como segundo factor.
    .outro = Si no fue usted, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }) y elimine la llave de acceso en la configuración de su cuenta.

impersonation-notice =
    .subject = Un administrador abrió su cuenta
    .intro = Un administrador de { $product } está actuando como usted, para ver su cuenta tal como usted la ve. No puede cambiar su contraseña, sus segundos factores ni su dirección, y su acceso termina en 15 minutos como máximo.
    .reason = El motivo indicado: { $reason }
    .outro = Si no lo esperaba, contacte con el soporte de { $site } y revise su cuenta.

passkey-removed =
    .subject = Se ha eliminado una llave de acceso
    .intro = Se acaba de eliminar una llave de acceso de su cuenta en { $product }.
    .outro = Si no fue usted, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }).

identity-linked =
    .subject = Inicio de sesión con { $provider } vinculado
    .intro-with-address = Iniciar sesión con su cuenta de { $provider } ({ $address }) ahora le da acceso a su cuenta en { $product }.
    .intro = Iniciar sesión con una cuenta de { $provider } ahora le da acceso a su cuenta en { $product }.
    .outro = Si no fue usted, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }) y quite el inicio de sesión con { $provider } en la configuración de su cuenta.

sso-idp-changed =
    .subject = El inicio de sesión único de su organización confía ahora en otro proveedor de identidad
    .intro = Una conexión de inicio de sesión único de su organización «{ $org }» en { $product } (conexión { $connection }) acaba de cambiarse para confiar en otro proveedor de identidad, o en otras claves de su proveedor de identidad.
    .now = Ahora confía en el proveedor de identidad que se llama a sí mismo { $idp }, con las claves { $keys }. Quienes iniciaban sesión con ella vuelven a empezar: ningún inicio de sesión que vinculó pasa a otro proveedor de identidad.
    .outro = Si no esperaba este cambio, revise de inmediato las conexiones de inicio de sesión único de la organización y su registro de auditoría, y elimine la conexión si no es suya.

identity-unlinked =
    .subject = Inicio de sesión con { $provider } desvinculado
    .intro = Iniciar sesión con su cuenta de { $provider } ya no le da acceso a su cuenta en { $product }.
    .outro = Si no fue usted, restablezca su contraseña de inmediato («¿Olvidó su contraseña?» en { $site }).

test-message =
    .subject = { $product }: mensaje de prueba
    .intro = Este es un mensaje de prueba del gatehouse en { $site }.
    .outro = Si puede leerlo, el envío de correo funciona.

## Páginas

page-continue-to = Continuar a { $app }
page-continue = Continuar

page-activated =
    .title = Su cuenta está activa
    .body = Gracias: { $email } está confirmada y la cuenta está lista. Ya puede iniciar sesión.

page-reset-form =
    .title = Elija una contraseña nueva
    .label = Contraseña nueva (al menos 8 caracteres)
    .button = Guardar la contraseña nueva

page-reset-done =
    .title = Su contraseña ha cambiado
    .body = Ya puede iniciar sesión con la contraseña nueva. Todas las sesiones que usaban la anterior han terminado.

page-email-login =
    .title = Iniciar sesión
    .body = Ha pedido un enlace de inicio de sesión. Pulse el botón para iniciar sesión en este dispositivo.
    .button = Iniciar sesión

page-email-confirmed =
    .title = Su dirección de correo electrónico ha cambiado
    .body = { $email } es ahora la dirección de su cuenta. Se ha avisado a su dirección anterior.

page-revert-form =
    .title = Deshacer el cambio de dirección
    .body = Si usted no cambió la dirección de correo electrónico de su cuenta, recupere aquí la anterior. Se cerrarán todas las sesiones; después, restablezca su contraseña.
    .button = Recuperar mi dirección anterior y cerrar todas las sesiones

page-revert-done =
    .title = Ha recuperado su dirección anterior
    .body = { $email } vuelve a ser la dirección de su cuenta y se han cerrado todas las sesiones. Restablezca ahora su contraseña si alguien más la conocía.

page-login =
    .title = Iniciar sesión
    .login = Correo electrónico o nombre de usuario
    .password = Contraseña
    .button = Iniciar sesión
    .continue = Continuar
    .passkey = Iniciar sesión con una llave de acceso
    .provider = Continuar con { $provider }
    .email-label = O reciba un enlace por correo electrónico
    .email-button = Enviarme un enlace
    .missing = Introduzca su correo electrónico o nombre de usuario y su contraseña.
    .failed = El inicio de sesión no funcionó. Inténtelo de nuevo o use otra forma de entrar.

page-sso-continue =
    .title = Iniciar sesión con su organización
    .body = Su organización inicia su sesión a través de su propia página de inicio de sesión.
    .link = Continuar

page-link-identity =
    .title = ¿Vincular { $provider }?
    .body = Esto vincula un inicio de sesión de { $provider } a la cuenta { $email }: quien inicie sesión con esa cuenta de { $provider } entrará en esta.
    .warning = Continúe solo si { $email } es su cuenta y lo pidió usted. Si alguien le envió este enlace, cierre esta página.
    .button = Vincular { $provider } a { $email }
    .decline = ¿No es suya? Cierre esta página: no se vincula nada.

page-link-sent =
    .title = Revise su correo
    .body = Si hay una cuenta con esta dirección, le hemos enviado un enlace de inicio de sesión. Ábralo en este navegador.
    .code = O escriba el código del correo
    .button = Iniciar sesión

page-second-factor =
    .title = Segundo factor
    .passkey = Usar su llave de acceso
    .code = El código de su aplicación de autenticación, o un código de recuperación
    .button = Continuar

page-signed-in =
    .title = Sesión iniciada
    .body = Ha iniciado sesión como { $who }.
    .button = Cerrar sesión

page-signed-out =
    .title = Sesión cerrada
    .body = Ha cerrado la sesión en todas las aplicaciones que usaban este inicio de sesión.

page-consent =
    .title = ¿Permitir el acceso?
    .intro = { $client } pide usar su cuenta para:
    .allow = Permitir
    .deny = Denegar
    .unverified = { $client } se registró aquí por sí mismo: nadie ha comprobado quién lo creó. La respuesta va a { $app }; permítalo solo si empezó allí.

scope-openid = saber quién es usted (el identificador de su cuenta)
scope-profile = ver su nombre y su nombre de usuario
scope-email = ver su dirección de correo electrónico
scope-offline_access = mantener la sesión iniciada mientras no está
scope-app_data = ver los datos que los administradores guardan sobre su cuenta (plan, roles)
scope-org = conocer la organización en la que trabaja aquí, su rol y sus permisos en ella
scope-org-named = saber que trabaja aquí en { $org }, su rol y sus permisos en ella
scope-resource = usar { $app } en su nombre

page-device =
    .title = Conectar un dispositivo
    .intro = Introduzca el código que muestra su dispositivo.
    .code = Código
    .continue = Continuar
    .unknown = Ese código no es válido, ha caducado o ya fue respondido. Compruebe el código que muestra su dispositivo o empiece de nuevo allí.

page-device-approve =
    .title = ¿Conectar este dispositivo?
    .intro = { $client } en otro dispositivo pide usar su cuenta para:
    .check = Permítalo solo si usted inició esto y su dispositivo muestra el código { $code }.
    .who = Ha iniciado sesión como { $who }; el dispositivo tendrá acceso a esta cuenta.
    .allow = Permitir
    .deny = Denegar

page-device-done =
    .approved-title = Dispositivo conectado
    .approved = Puede volver a su dispositivo: ya tiene la sesión iniciada.
    .denied-title = Solicitud denegada
    .denied = No se dejó entrar al dispositivo.

page-oauth-refused =
    .title = Esta solicitud de inicio de sesión no es válida

page-logout =
    .title = Cerrar sesión
    .body = ¿Cerrar la sesión en todas las aplicaciones que usan este inicio de sesión?
    .button = Cerrar sesión

page-form-expired =
    .title = Este formulario ha caducado
    .body = Este formulario se abrió en otro navegador, hace más de un día, o se envió desde otro sitio, así que no se puede confiar en él. Vuelva a abrir la página.
    .login = Iniciar sesión

## Páginas de un enlace que no se puede usar

link-expired =
    .title = Este enlace ha caducado
    .detail = Los enlaces caducan al cabo de un tiempo; empiece de nuevo.
link-invalid =
    .title = Este enlace no es válido
    .detail = El enlace está incompleto, es desconocido o ya se ha usado.
link-address-taken =
    .title = Esta dirección ya está en uso
    .detail = Otra cuenta usa ya esta dirección, así que no se puede hacer el cambio.
activation-link-expired =
    .title = Este enlace ha caducado
    .detail = Los enlaces de activación caducan. Pida uno nuevo desde la aplicación y use el correo más reciente.
activation-link-invalid =
    .title = Este enlace no es válido
    .detail = El enlace está incompleto o es desconocido. Copie el enlace completo del correo más reciente.
reset-link-expired =
    .title = Este enlace ha caducado
    .detail = Los enlaces para restablecer la contraseña caducan al cabo de un tiempo. Pida uno nuevo y use el correo más reciente.
login-link-expired =
    .title = Este enlace ha caducado
    .detail = Los enlaces de inicio de sesión funcionan durante 10 minutos, y una solicitud más reciente anula el enlace anterior. Pida uno nuevo y use el correo más reciente.
login-link-invalid =
    .title = Este enlace no es válido
    .detail = El enlace está incompleto, es desconocido o ya se ha usado. Pida uno nuevo y use el correo más reciente.
login-by-email-off =
    .title = El inicio de sesión por correo está desactivado
    .detail = Este sitio ya no permite iniciar sesión con enlaces enviados por correo. Inicie sesión con su contraseña.
account-disabled =
    .title = Esta cuenta está desactivada
    .detail = Un administrador ha desactivado esta cuenta.
signup-closed =
    .title = El registro está cerrado
    .detail = Este sitio ya no crea cuentas por correo. Pida una a un administrador.
form-from-elsewhere =
    .title = Este formulario se envió desde otro sitio
    .detail = Vuelva a abrir el enlace del correo y pulse el botón de esa página.
second-factor-first =
    .title = Configure primero un segundo factor
    .detail = Esta cuenta debe configurar un segundo factor antes de poder iniciar sesión en otras aplicaciones: hágalo primero en la página de su cuenta.

## Por qué se rechazó un formulario de inicio de sesión, según el código de error de la API; un
## código que no figura aquí muestra la explicación de la API, en inglés.

problem-invalid_credentials = El correo electrónico, el nombre de usuario o la contraseña no son correctos.
problem-account_not_activated = Confirme primero su dirección de correo electrónico: siga el enlace del correo que le enviamos.
problem-account_disabled = Esta cuenta está desactivada.
problem-rate_limited = Demasiados intentos. Espere un momento y vuelva a intentarlo.
problem-invalid_code = Ese código no es correcto o ya se usó. Inténtelo de nuevo.
problem-mfa_token_invalid = Este inicio de sesión ha caducado. Empiece de nuevo.
problem-token_invalid = Este inicio de sesión ha caducado. Empiece de nuevo.
problem-token_expired = Este inicio de sesión ha caducado. Empiece de nuevo.
problem-webauthn_failed = No se pudo usar la llave de acceso. Inténtelo de nuevo o entre de otra forma.
problem-passwordless_disabled = Aquí el inicio de sesión por correo está desactivado. Inicie sesión con su contraseña.
problem-signup_disabled = Aquí el registro está cerrado. Pida una cuenta a un administrador.
problem-validation_failed = Revise lo que ha introducido e inténtelo de nuevo.
problem-oidc_state_invalid = Este inicio de sesión tardó demasiado o se empezó en otro navegador. Empiece de nuevo.
problem-handoff_invalid = Este inicio de sesión se empezó en otro navegador. Empiécelo de nuevo aquí.
problem-oidc_failed = El inicio de sesión en el otro sitio no funcionó. Inténtelo de nuevo o entre de otra forma.
problem-provider_unavailable = Ahora mismo no se puede acceder al otro sitio. Inténtelo más tarde o entre de otra forma.
problem-provider_email_missing = El otro sitio no nos indicó su dirección de correo electrónico, así que no se puede crear una cuenta con ella.
problem-identity_taken = Ese inicio de sesión ya pertenece a otra cuenta.
