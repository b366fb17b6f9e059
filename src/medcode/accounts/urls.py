"""Account URLs, mounted at /account/. Names are global (no namespace) because Django's auth
settings and views use them bare: LOGIN_URL = "login", "password_reset_confirm" in reset mail."""

from django.urls import path

from . import views
from .emails import mail_after_response

urlpatterns = [
    path("", views.account, name="account"),
    path("register/", mail_after_response(views.register), name="register"),
    path("register/sent/", views.register_done, name="register_done"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout, name="logout"),
    path("verify/resend/", mail_after_response(views.resend_verification), name="resend_verification"),
    path("verify/<str:token>/", views.verify_email, name="verify_email"),
    path("email/", mail_after_response(views.change_email), name="change_email"),
    path("email/confirm/<str:token>/", mail_after_response(views.confirm_email_change), name="confirm_email_change"),
    path("password/", mail_after_response(views.change_password), name="change_password"),
    path("password/reset/", mail_after_response(views.PasswordResetView.as_view()), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("delete/", mail_after_response(views.delete_account), name="delete_account"),
    path("deleted/", views.account_deleted, name="account_deleted"),
]
