"""The console's words, in Spanish (the default) and English.

`?lang=en` (or `es`) chooses, and a cookie remembers the choice; without either the page is
Spanish. Every text a page shows comes from `TEXTS`, looked up by key; `{name}` fields are
filled with `str.format` before the template escapes the result. Status and result codes
keep their code beside the words (the code is what tests and logs use).
"""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("es", "en")
DEFAULT = "es"

# key → (Spanish, English)
TEXTS: dict[str, tuple[str, str]] = {
    # frame
    "app": ("Consola pamgate", "pamgate console"),
    "nav_tickets": ("Tiquetes", "Tickets"),
    "nav_approvals": ("Aprobaciones", "Approvals"),
    "nav_statements": ("Estados de cuenta", "Statements"),
    "nav_outbox": ("Mensajes", "Outbox"),
    "nav_health": ("Salud", "Health"),
    "logout": ("Salir", "Log out"),
    "signed_in_as": ("Sesión de {user} ({role})", "Signed in as {user} ({role})"),
    "other_lang": ("English", "Español"),
    # login
    "login_title": ("Iniciar sesión", "Log in"),
    "username": ("Usuario", "Username"),
    "password": ("Contraseña", "Password"),
    "login": ("Entrar", "Log in"),
    "err_credentials": ("Usuario o contraseña incorrectos.", "Wrong username or password."),
    "err_locked": (
        "Demasiados intentos fallidos. Intente de nuevo en {minutes} min.",
        "Too many failed attempts. Try again in {minutes} min.",
    ),
    "err_login_expired": (
        "El formulario caducó. Vuelva a intentarlo.",
        "The form expired. Please try again.",
    ),
    "err_required": ("Este campo es obligatorio.", "This field is required."),
    "err_too_long": ("Demasiado largo.", "Too long."),
    "logged_out": ("Sesión cerrada.", "You are logged out."),
    "session_ended": (
        "Su sesión terminó. Inicie sesión de nuevo.",
        "Your session ended. Please log in again.",
    ),
    # search
    "search_title": ("Buscar tiquete", "Find a ticket"),
    "search_label": ("Id o código del tiquete", "Ticket id or code"),
    "search": ("Buscar", "Search"),
    "err_not_found": (
        "No hay ningún tiquete con ese id o código.",
        "No ticket has that id or code.",
    ),
    "found_many": ("{n} tiquetes coinciden:", "{n} tickets match:"),
    # ticket
    "ticket_title": ("Tiquete {code}", "Ticket {code}"),
    "status": ("Estado", "Status"),
    "result": ("Resultado", "Result"),
    "payout": ("Premio", "Payout"),
    "paid": ("Pagado", "Paid"),
    "remaining": ("Por pagar", "Remaining"),
    "channel": ("Canal", "Channel"),
    "sold_at": ("Vendido", "Sold"),
    "pay_title": ("Pagar", "Pay"),
    "amount": ("Monto", "Amount"),
    "amount_hint": ("Ejemplo: {example}", "For example: {example}"),
    "method": ("Forma de pago", "Method"),
    "final": ("Pago final (el tiquete queda PAGADO)", "Final payment (the ticket becomes PAID)"),
    "notes": ("Notas", "Notes"),
    "pay": ("Pagar", "Pay"),
    "not_payable": ("Este tiquete no se puede pagar ahora.", "This ticket cannot be paid now."),
    "history": ("Pagos", "Payments"),
    "no_payments": ("Todavía no hay pagos.", "No payments yet."),
    "date": ("Fecha", "Date"),
    "reversed": ("Reversado", "Reversed"),
    "yes": ("Sí", "Yes"),
    "no": ("No", "No"),
    "pending_approval": ("Espera aprobación", "Waiting for approval"),
    "reverse": ("Reversar", "Reverse"),
    "reason": ("Motivo", "Reason"),
    "flash_paid": ("Pago de {amount} registrado.", "Payment of {amount} recorded."),
    "flash_paid_again": (
        "Ese formulario ya se había enviado: el pago de {amount} se registró una sola vez.",
        "That form was already sent: the payment of {amount} was recorded once.",
    ),
    "flash_pending": (
        "Pago de {amount} registrado; espera la aprobación de un administrador.",
        "Payment of {amount} recorded; it waits for an administrator's approval.",
    ),
    "flash_reversed": ("Pago de {amount} reversado.", "Payment of {amount} reversed."),
    "flash_approved": ("Pago de {amount} aprobado.", "Payment of {amount} approved."),
    "flash_retried": ("Mensaje {id} en cola de nuevo.", "Message {id} queued again."),
    "flash_settled": ("Movimiento de {amount} registrado.", "Movement of {amount} recorded."),
    "err_amount_required": ("Escriba el monto.", "Enter the amount."),
    "err_amount_invalid": (
        "Escriba solo cifras, con un punto o una coma para los decimales (sin separador de miles).",
        "Use digits only, with one point or comma for decimals (no thousands separator).",
    ),
    "err_amount_decimals": (
        "Esta moneda admite {places} decimales.",
        "This currency takes {places} decimals.",
    ),
    "err_amount_positive": ("El monto debe ser mayor que cero.", "The amount must be above zero."),
    "err_amount_too_large": ("El monto es demasiado grande.", "The amount is too large."),
    "err_exceeds": (
        "El monto supera lo que falta por pagar ({remaining}).",
        "The amount is more than what remains to pay ({remaining}).",
    ),
    "err_method": ("Elija una forma de pago.", "Choose a method."),
    "err_notes": ("Máximo {n} caracteres.", "At most {n} characters."),
    "err_not_winner": ("Este tiquete no es ganador.", "This ticket is not a winner."),
    "err_not_payable_status": (
        "El tiquete está {status}: solo se pagan tiquetes EVALUATED.",
        "The ticket is {status}: only EVALUATED tickets are paid.",
    ),
    "err_in_progress": (
        "Otro pago de este tiquete se está registrando en este momento. Intente de nuevo.",
        "Another payment of this ticket is being recorded right now. Try again.",
    ),
    "err_resent": (
        "Ese formulario ya se usó con otros datos. Revise y envíe este de nuevo.",
        "That form was already used with other values. Check and send this one again.",
    ),
    "err_refused": ("No se pudo completar: {message}", "Could not be done: {message}"),
    "err_csrf": (
        "El formulario no es válido o caducó. Recargue la página.",
        "The form is not valid or has expired. Reload the page.",
    ),
    "err_reason": ("Escriba el motivo.", "Enter the reason."),
    "err_already_reversed": ("Ese pago ya estaba reversado.", "That payment was already reversed."),
    # approvals
    "approvals_title": ("Pagos por aprobar", "Payments waiting for approval"),
    "no_approvals": ("No hay pagos por aprobar.", "No payments are waiting."),
    "ticket": ("Tiquete", "Ticket"),
    "maker": ("Registrado por", "Made by"),
    "approve": ("Aprobar", "Approve"),
    # statements
    "statements_title": ("Estado de cuenta", "Statement"),
    "dimension": ("Cuenta", "Account"),
    "from": ("Desde", "From"),
    "to": ("Hasta", "To"),
    "show": ("Ver", "Show"),
    "day": ("Día", "Day"),
    "sales": ("Ventas", "Sales"),
    "payouts": ("Premios pagados", "Payouts"),
    "commission": ("Comisión", "Commission"),
    "total_paid": ("Pagos", "Payments"),
    "collected": ("Cobros", "Collections"),
    "balance": ("Saldo del día", "Day balance"),
    "remaining_balance": ("Saldo acumulado", "Remaining balance"),
    "saldado": ("Saldado", "Settled"),
    "chart_title": ("Saldo acumulado por día", "Remaining balance by day"),
    "no_days": ("No hay días en ese rango.", "No days in that range."),
    "choose_dimension": ("Elija una cuenta.", "Choose an account."),
    "record_title": ("Registrar pago o cobro", "Record a payment or collection"),
    "type": ("Tipo", "Type"),
    "type_payment": ("Pago", "Payment"),
    "type_collection": ("Cobro", "Collection"),
    "time": ("Hora", "Time"),
    "record": ("Registrar", "Record"),
    "final_settlement": ("Liquidación final", "Final settlement"),
    "err_date": ("Escriba una fecha AAAA-MM-DD.", "Enter a date YYYY-MM-DD."),
    "err_time": ("Escriba una hora HH:MM.", "Enter a time HH:MM."),
    "err_range": ("La fecha inicial va antes de la final.", "The start date comes before the end."),
    "err_future_date": ("La fecha no puede ser futura.", "The date cannot be in the future."),
    "err_future_time": ("La hora no puede ser futura.", "The time cannot be in the future."),
    "err_type": ("Elija pago o cobro.", "Choose payment or collection."),
    "window": ("Ventana", "Window"),
    "seller": ("Vendedor", "Seller"),
    "banca": ("Banca", "Banca"),
    # outbox
    "outbox_title": ("Mensajes salientes", "Outbox"),
    "state": ("Estado", "State"),
    "attempts": ("Intentos", "Attempts"),
    "next_attempt": ("Próximo intento", "Next attempt"),
    "last_error": ("Último error", "Last error"),
    "destination": ("Destino", "To"),
    "kind": ("Tipo", "Kind"),
    "retry": ("Reintentar", "Retry"),
    "no_messages": ("No hay mensajes en ese estado.", "No messages in that state."),
    # health
    "health_title": ("Salud de los libros", "Health of the books"),
    "reconcile_title": ("Conciliación", "Reconciliation"),
    "audit_title": ("Cadena de auditoría", "Audit chain"),
    "all_ok": ("Todo cuadra.", "Everything holds."),
    "breach": ("{n} verificaciones fallaron.", "{n} checks failed."),
    "check": ("Verificación", "Check"),
    "detail": ("Detalle", "Detail"),
    "audit_ok": ("{n} registros verificados, cadena intacta.", "{n} rows checked, chain intact."),
    "audit_broken": ("{n} registros verificados; problemas:", "{n} rows checked; problems:"),
    "ok": ("bien", "ok"),
    # errors
    "error_title": ("Error {status}", "Error {status}"),
    "error_400": ("La solicitud no es válida.", "The request is not valid."),
    "error_401": ("Inicie sesión.", "Please log in."),
    "error_403": ("No tiene permiso para esto.", "You are not allowed to do this."),
    "error_404": ("No se encontró.", "Not found."),
    "error_405": ("Método no permitido.", "Method not allowed."),
    "error_409": ("Conflicto con el estado actual.", "Conflict with the current state."),
    "error_413": ("La solicitud es demasiado grande.", "The request is too large."),
    "error_500": ("Error interno. Intente de nuevo.", "Internal error. Please try again."),
    "error_other": ("No se pudo atender la solicitud.", "The request could not be served."),
    "back": ("Volver a la búsqueda", "Back to the search"),
    "forbidden_ticket": (
        "Ese tiquete es de otra ventana o de otro vendedor.",
        "That ticket belongs to another window or seller.",
    ),
    # codes
    "EVALUATED": ("evaluado", "evaluated"),
    "PAID": ("pagado", "paid"),
    "OPEN": ("abierto", "open"),
    "RESERVED": ("reservado", "reserved"),
    "CLOSED": ("cerrado", "closed"),
    "CANCELLED": ("anulado", "cancelled"),
    "EXPIRED": ("vencido", "expired"),
    "won": ("ganador", "won"),
    "lost": ("perdedor", "lost"),
    "pending": ("pendiente", "pending"),
    "void": ("nulo", "void"),
    "cash": ("efectivo", "cash"),
    "check_method": ("cheque", "check"),
    "transfer": ("transferencia", "transfer"),
    "system": ("sistema", "system"),
    "other": ("otro", "other"),
    "ADMIN": ("administrador", "administrator"),
    "VENTANA": ("ventana", "window"),
    "VENDEDOR": ("vendedor", "seller"),
}


def choose(query: str | None, cookie: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    return DEFAULT


def translator(lang: str) -> Callable[..., str]:
    index = LANGS.index(lang) if lang in LANGS else 0

    def t(key: str, **fields: object) -> str:
        pair = TEXTS.get(key)
        text = pair[index] if pair else key
        return text.format(**fields) if fields else text

    return t


def method_key(method: str) -> str:
    """`check` is also a word of the health page: its method has a key of its own."""
    return "check_method" if method == "check" else method
