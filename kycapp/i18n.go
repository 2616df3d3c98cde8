package kycapp

import (
	"net/http"

	"golang.org/x/text/language"

	"github.com/onboardkit/onboarding"
)

// The languages of the page: pt-BR unless the browser prefers English.
const (
	langPT = "pt-BR"
	langEN = "en"
)

var langMatcher = language.NewMatcher([]language.Tag{language.BrazilianPortuguese, language.English})

// pickLang reads Accept-Language; anything but a preference for English is pt-BR.
func pickLang(r *http.Request) string {
	tag, _ := language.MatchStrings(langMatcher, r.Header.Get("Accept-Language"))
	if base, _ := tag.Base(); base.String() == "en" {
		return langEN
	}
	return langPT
}

// messages are the page's texts by language. Templates read them with {{.Tr "key"}}.
var messages = map[string]map[string]string{
	langPT: {
		"title":            "Verificação cadastral",
		"intro":            "Envie os itens abaixo para concluir o seu cadastro.",
		"for_company":      "Empresa",
		"items":            "Itens para enviar",
		"status_pending":   "Pendente",
		"status_submitted": "Enviado, em análise",
		"status_approved":  "Aprovado",
		"status_rejected":  "Recusado: envie de novo",
		"optional":         "opcional",
		"choose_file":      "Arquivo",
		"send":             "Enviar",
		"send_again":       "Enviar outro arquivo",
		"camera_intro":     "Use a câmera frontal. Deixe o rosto bem iluminado e centralizado.",
		"camera_video":     "Imagem da câmera",
		"take_photo":       "Tirar foto",
		"retake_photo":     "Tirar outra",
		"send_photo":       "Enviar foto",
		"photo_preview":    "Prévia da selfie",
		"sending":          "Enviando…",
		"no_camera":        "Não foi possível usar a câmera. Envie uma foto pelo campo abaixo.",
		"or_file":          "Ou envie uma foto do seu rosto",
		"done":             "Tudo enviado. Vamos analisar os seus documentos e avisar quando terminar.",
		"all_approved":     "Seu cadastro foi aprovado. Não há mais nada a enviar.",
		"denied":           "Não é possível continuar este cadastro. Fale com quem enviou o link.",
		"received":         "Recebemos: %s.",
		"preview_title":    "Verificação cadastral",
		"preview_body":     "Abra este link no seu celular para enviar os seus documentos.",
		"gone_title":       "Link expirado ou já usado",
		"gone_body":        "Este link não vale mais. Peça um novo link a quem o enviou.",
		"nosession_title":  "Sessão encerrada",
		"nosession_body":   "Para continuar, abra o link que você recebeu. Se ele já foi usado, peça um novo.",
		"notfound_title":   "Página não encontrada",
		"notfound_body":    "Confira o endereço ou abra de novo o link que você recebeu.",
		"limited_title":    "Muitas tentativas",
		"limited_body":     "Aguarde alguns segundos e tente de novo.",
		"error_title":      "Algo deu errado",
		"error_body":       "Não conseguimos concluir agora. Tente de novo em instantes.",
		"hint":             "%s, até %s.",
		"or":               " ou ",
		// Upload errors.
		"err_format":        "Formato não aceito. Envie um arquivo %s.",
		"err_truncated":     "O arquivo parece incompleto ou corrompido. Envie-o de novo.",
		"err_too_large":     "O arquivo é grande demais. O limite é %s.",
		"err_image_large":   "A imagem tem resolução grande demais. Envie uma foto menor.",
		"err_empty":         "Escolha um arquivo para enviar.",
		"err_not_required":  "Este item não precisa de envio agora.",
		"err_too_many":      "Este item já recebeu o máximo de envios.",
		"err_status":        "Não é possível enviar documentos neste momento.",
		"err_form":          "Não conseguimos ler o envio. Tente de novo.",
		"err_busy":          "Estamos ocupados. Tente de novo em instantes.",
		"err_interrupted":   "O envio foi interrompido. Tente de novo.",
		"err_missing_field": "Escolha o item e o arquivo antes de enviar.",
	},
	langEN: {
		"title":             "Identity verification",
		"intro":             "Send the items below to complete your registration.",
		"for_company":       "Company",
		"items":             "Items to send",
		"status_pending":    "Pending",
		"status_submitted":  "Sent, under review",
		"status_approved":   "Approved",
		"status_rejected":   "Rejected: please send again",
		"optional":          "optional",
		"choose_file":       "File",
		"send":              "Send",
		"send_again":        "Send another file",
		"camera_intro":      "Use the front camera. Keep your face well lit and centred.",
		"camera_video":      "Camera image",
		"take_photo":        "Take photo",
		"retake_photo":      "Take another",
		"send_photo":        "Send photo",
		"photo_preview":     "Selfie preview",
		"sending":           "Sending…",
		"no_camera":         "The camera could not be used. Send a photo with the field below.",
		"or_file":           "Or send a photo of your face",
		"done":              "Everything is sent. We will review your documents and let you know.",
		"all_approved":      "Your registration is approved. There is nothing more to send.",
		"denied":            "This registration cannot go on. Please contact whoever sent you the link.",
		"received":          "Received: %s.",
		"gone_title":        "Link expired or already used",
		"gone_body":         "This link is no longer valid. Ask whoever sent it for a new one.",
		"nosession_title":   "Session ended",
		"nosession_body":    "To continue, open the link you received. If it was already used, ask for a new one.",
		"notfound_title":    "Page not found",
		"notfound_body":     "Check the address or open the link you received again.",
		"limited_title":     "Too many attempts",
		"limited_body":      "Wait a few seconds and try again.",
		"error_title":       "Something went wrong",
		"error_body":        "We could not finish this now. Try again in a moment.",
		"hint":              "%s, up to %s.",
		"or":                " or ",
		"err_format":        "Format not accepted. Send a %s file.",
		"err_truncated":     "The file looks incomplete or damaged. Send it again.",
		"err_too_large":     "The file is too large. The limit is %s.",
		"err_image_large":   "The image resolution is too high. Send a smaller photo.",
		"err_empty":         "Choose a file to send.",
		"err_not_required":  "This item does not need a file now.",
		"err_too_many":      "This item has received the most files it takes.",
		"err_status":        "Documents cannot be sent at this moment.",
		"err_form":          "We could not read what was sent. Try again.",
		"err_busy":          "We are busy. Try again in a moment.",
		"err_interrupted":   "The upload was interrupted. Try again.",
		"err_missing_field": "Choose the item and the file before sending.",
	},
}

// englishLabels name the document types in English; the table's labels are pt-BR.
var englishLabels = map[onboarding.DocumentType]string{
	onboarding.DocCCMEI:                        "Individual Microentrepreneur Certificate (CCMEI)",
	onboarding.DocEIRegistrationRequirement:    "Sole proprietor registration (Requerimento de Empresário)",
	onboarding.DocArticlesOfAssociation:        "Articles of association (Contrato social)",
	onboarding.DocBylaws:                       "Bylaws (Estatuto social)",
	onboarding.DocEIRELIIncorporationStatement: "EIRELI incorporation statement",
	onboarding.DocCNH:                          "Identity document (CNH or RG)",
	onboarding.DocRG:                           "Identity document (CNH or RG)",
	onboarding.DocSelfie:                       "Selfie",
	onboarding.DocProofOfAddress:               "Proof of address",
	onboarding.DocIncomeStatement:              "Revenue statement",
}

// itemLabel is the item's label in lang: the policy's (pt-BR) label, or the English name
// of its type followed by the person's name. A custom policy's type without an English
// name keeps its own label.
func itemLabel(r *onboarding.Requirement, lang string) string {
	if lang != langEN {
		return r.Label
	}
	en, ok := englishLabels[r.DocumentType]
	if !ok {
		return r.Label
	}
	if r.Subject != nil && r.Subject.Name != "" {
		return en + " of " + r.Subject.Name
	}
	return en
}

// formatNames are the formats as customers know them.
var formatNames = map[onboarding.Format]string{
	onboarding.FormatPDF:  "PDF",
	onboarding.FormatJPEG: "JPEG",
	onboarding.FormatPNG:  "PNG",
}

// formatExtensions help the file picker of systems that filter by extension.
var formatExtensions = map[onboarding.Format][]string{
	onboarding.FormatPDF:  {".pdf"},
	onboarding.FormatJPEG: {".jpg", ".jpeg"},
	onboarding.FormatPNG:  {".png"},
}
